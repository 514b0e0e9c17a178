"""INT8 calibration: calibration batches from image + mask directories, Q/DQ quantisation."""
