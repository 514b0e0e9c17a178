#pragma once
#include <opencv2/core.hpp>

namespace edgeinpaint {

// Writes the Poisson composite into the hole pixels of `result` (CV_8UC3, a copy of `rgb`).
// output: planar (3, hp, wp) float raw generator output in [0, 1]; mask: CV_8UC1, > 127 = hole.
void poisson_blend(const float* output, int hp, int wp, const cv::Mat& rgb, const cv::Mat& mask, cv::Mat& result);

}  // namespace edgeinpaint
