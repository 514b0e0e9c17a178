"""Run the edgeinpaint CLI as an install without PyTorch would: ``import torch`` fails.

usage: python without_torch.py ARGS...   (the CLI's own arguments)
"""

from __future__ import annotations

import sys

sys.modules["torch"] = None  # type: ignore[assignment]  # every ``import torch`` raises ImportError

from edgeinpaint.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.argv = ["edgeinpaint", *sys.argv[1:]]
    main()
