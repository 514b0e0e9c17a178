// The crop strategy of edgeinpaint's Python runtime (src/edgeinpaint/runtime/hd.py), step for step, so a
// large photo gives the same pieces, boxes, merges and blend weights in both hosts.
#include "hd.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

#include <opencv2/imgproc.hpp>

namespace edgeinpaint {
namespace {

constexpr int kMinSide = 12;  // specs.MIN_SIDE

long area(const cv::Rect& r) { return static_cast<long>(r.width) * r.height; }

// Grow a box to twice the generators' minimum side where the image allows (hd._min_size).
cv::Rect min_size(const cv::Rect& box, int h, int w) {
  int y0 = box.y, x0 = box.x, y1 = box.y + box.height, x1 = box.x + box.width;
  const int need = kMinSide * 2;
  if (y1 - y0 < need) y0 = std::max(0, y0 - need / 2), y1 = std::min(h, y1 + need / 2);
  if (x1 - x0 < need) x0 = std::max(0, x0 - need / 2), x1 = std::min(w, x1 + need / 2);
  return {x0, y0, x1 - x0, y1 - y0};
}

}  // namespace

std::vector<HoleBox> hole_boxes(const cv::Mat& hole, const HDParams& params) {
  const int h = hole.rows, w = hole.cols, cell = params.cell;
  cv::Mat labels;
  cv::connectedComponents(hole != 0, labels, 8, CV_32S);
  const std::int64_t ncx = (w + cell - 1) / cell, ncells = ((h + cell - 1) / cell) * ncx;
  // Pieces = (component, grid cell), numbered 1.. in the order of that key (as the Python sort).
  struct Bounds { int y0, x0, y1, x1; };
  std::vector<std::pair<std::int64_t, Bounds>> keyed;
  std::vector<std::int64_t> pixel_key(static_cast<std::size_t>(h) * w, -1);
  {
    std::vector<std::int64_t> keys;
    for (int y = 0; y < h; ++y) {
      const int* lab = labels.ptr<int>(y);
      for (int x = 0; x < w; ++x)
        if (lab[x] > 0) {
          const std::int64_t k = lab[x] * ncells + (y / cell) * ncx + (x / cell);
          pixel_key[static_cast<std::size_t>(y) * w + x] = k;
          keys.push_back(k);
        }
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (auto k : keys) keyed.push_back({k, {h, w, -1, -1}});
  }
  if (keyed.empty()) return {};
  auto piece_of = [&](std::int64_t k) {
    return static_cast<int>(std::lower_bound(keyed.begin(), keyed.end(), std::make_pair(k, Bounds{}),
                                             [](const auto& a, const auto& b) { return a.first < b.first; }) -
                            keyed.begin());
  };
  cv::Mat piece(h, w, CV_32S, cv::Scalar(0));  // 1-based piece number per hole pixel
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const std::int64_t k = pixel_key[static_cast<std::size_t>(y) * w + x];
      if (k < 0) continue;
      const int i = piece_of(k);
      Bounds& b = keyed[i].second;
      b.y0 = std::min(b.y0, y), b.x0 = std::min(b.x0, x), b.y1 = std::max(b.y1, y + 1), b.x1 = std::max(b.x1, x + 1);
      piece.at<int>(y, x) = i + 1;
    }
  std::vector<std::pair<cv::Rect, std::set<int>>> boxes;
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    const Bounds& b = keyed[i].second;
    const int m = std::max(params.min_margin, static_cast<int>(params.margin * std::max(b.y1 - b.y0, b.x1 - b.x0)));
    const int y0 = std::max(0, b.y0 - m), x0 = std::max(0, b.x0 - m), y1 = std::min(h, b.y1 + m), x1 = std::min(w, b.x1 + m);
    boxes.push_back({cv::Rect(x0, y0, x1 - x0, y1 - y0), {static_cast<int>(i) + 1}});
  }
  for (bool merged = true; merged;) {  // the first mergeable pair, again and again (as the Python loop)
    merged = false;
    for (std::size_t i = 0; i < boxes.size() && !merged; ++i)
      for (std::size_t j = i + 1; j < boxes.size(); ++j) {
        const cv::Rect u = boxes[i].first | boxes[j].first;
        if (area(u) <= area(boxes[i].first) + area(boxes[j].first)) {
          boxes[i].first = u;
          boxes[i].second.insert(boxes[j].second.begin(), boxes[j].second.end());
          boxes.erase(boxes.begin() + static_cast<std::ptrdiff_t>(j));
          merged = true;
          break;
        }
      }
  }
  std::vector<HoleBox> out;
  for (const auto& [rect, owned] : boxes) {
    const cv::Rect r = min_size(rect, h, w);
    cv::Mat mine(r.size(), CV_8UC1, cv::Scalar(0));
    for (int y = 0; y < r.height; ++y) {
      const int* p = piece.ptr<int>(r.y + y) + r.x;
      for (int x = 0; x < r.width; ++x) mine.at<unsigned char>(y, x) = p[x] > 0 && owned.count(p[x]) ? 1 : 0;
    }
    out.push_back({r, mine});
  }
  return out;
}

cv::Mat inpaint_crops(const std::function<cv::Mat(const cv::Mat&, const cv::Mat&)>& whole, const cv::Mat& pixels,
                      const cv::Mat& rgb8, const cv::Mat& hole, const HDParams& params) {
  const auto boxes = hole_boxes(hole, params);
  const float overlap = static_cast<float>(std::min(params.overlap, params.min_margin));
  const bool blend = boxes.size() > 1 && overlap > 0;
  cv::Mat out = rgb8.clone();
  cv::Mat total(hole.size(), CV_32FC3, cv::Scalar::all(0)), weight(hole.size(), CV_32F, cv::Scalar(0));
  for (const auto& box : boxes) {
    const cv::Mat box_hole = hole(box.rect).clone();  // every hole pixel in the box is unknown to the generator
    const cv::Mat painted = whole(pixels(box.rect).clone(), box_hole);
    if (!blend) {
      painted.copyTo(out(box.rect), box.owned);
      continue;
    }
    // Weight 1 on the box's own pieces, falling to 0 over `overlap` px from them, inside the hole.
    cv::Mat distance;
    cv::distanceTransform(box.owned == 0, distance, cv::DIST_L2, 3);
    for (int y = 0; y < box.rect.height; ++y)
      for (int x = 0; x < box.rect.width; ++x) {
        if (!box_hole.at<unsigned char>(y, x)) continue;
        const float wgt = std::clamp(1.0f - distance.at<float>(y, x) / overlap, 0.0f, 1.0f);
        const cv::Vec3b& p = painted.at<cv::Vec3b>(y, x);
        cv::Vec3f& t = total.at<cv::Vec3f>(box.rect.y + y, box.rect.x + x);
        for (int c = 0; c < 3; ++c) t[c] += wgt * static_cast<float>(p[c]);
        weight.at<float>(box.rect.y + y, box.rect.x + x) += wgt;
      }
  }
  if (!blend) return out;
  for (int y = 0; y < hole.rows; ++y)
    for (int x = 0; x < hole.cols; ++x) {
      if (!hole.at<unsigned char>(y, x)) continue;
      const cv::Vec3f& t = total.at<cv::Vec3f>(y, x);
      const float wsum = weight.at<float>(y, x);
      for (int c = 0; c < 3; ++c)
        out.at<cv::Vec3b>(y, x)[c] = static_cast<unsigned char>(std::clamp(std::nearbyint(t[c] / wsum), 0.0f, 255.0f));
    }
  return out;
}

}  // namespace edgeinpaint
