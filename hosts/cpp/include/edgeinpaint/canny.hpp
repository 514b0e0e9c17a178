// Exact skimage.feature.canny (scikit-image >= 0.20) for the C++ host.
//
// The same algorithm as src/edgeinpaint/canny/graph.py, in float64 and in scipy's summation
// order, so the edges are bit-identical to skimage (tests/integration/test_cpp_host.py pins it).
#pragma once

#include <vector>

namespace edgeinpaint {

struct CannyParams {
  double sigma = 2.0;
  double low = 0.1;
  double high = 0.2;
  // scipy's normalised 1-D Gaussian (radius int(4 sigma + 0.5)); the manifest carries the exact
  // values written by the exporter, so no summation-order question arises here.
  std::vector<double> kernel;
};

// gray: H*W row-major in [0, 1]; known: H*W, nonzero = known pixel. Returns H*W {0, 1}.
std::vector<unsigned char> canny(const std::vector<double>& gray, const std::vector<unsigned char>& known, int height,
                                 int width, const CannyParams& params);

}  // namespace edgeinpaint
