// High-resolution crop strategy: the same boxes and blending as the Python runtime (runtime/hd.py).
#pragma once

#include <functional>
#include <vector>

#include <opencv2/core.hpp>

#include "edgeinpaint/inpainter.hpp"

namespace edgeinpaint {

struct HoleBox {
  cv::Rect rect;    // the box, context included
  cv::Mat owned;    // CV_8UC1 (rect.size()): 1 on the hole pieces this box pastes back
};


// Boxes around the hole's 8-connected pieces (cut by a `cell` grid), grown by their margin, merged where
// the merged box is no larger than the two apart. hole: CV_8UC1, non-zero = hole.
std::vector<HoleBox> hole_boxes(const cv::Mat& hole, const HDParams& params);

// The crop strategy around `whole` (which inpaints one image: (pixels crop, hole crop) -> CV_8UC3 composite).
// pixels: CV_8UC3 or CV_16UC3; rgb8: pixels at 8 bits; hole: CV_8UC1. Returns CV_8UC3.
cv::Mat inpaint_crops(const std::function<cv::Mat(const cv::Mat&, const cv::Mat&)>& whole, const cv::Mat& pixels,
                      const cv::Mat& rgb8, const cv::Mat& hole, const HDParams& params);

}  // namespace edgeinpaint
