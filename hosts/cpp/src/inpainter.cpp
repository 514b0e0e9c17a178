#include "edgeinpaint/inpainter.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "blend.hpp"
#include "hd.hpp"
#include "manifest.hpp"

namespace edgeinpaint {
namespace {

constexpr double kGray[3] = {0.2125, 0.7154, 0.0721};  // skimage rgb2gray
constexpr int kMultiple = 4;
constexpr int kMinSide = 12;

// (H, W) float plane -> reflect-padded (Hp, Wp) plane written into blob channel c.
void put_plane(const cv::Mat& plane, cv::Mat& blob, int c, int pad_h, int pad_w) {
  cv::Mat padded;
  cv::copyMakeBorder(plane, padded, 0, pad_h, 0, pad_w, cv::BORDER_REFLECT_101);  // numpy 'reflect'
  const int hp = padded.rows, wp = padded.cols;
  float* dst = blob.ptr<float>() + static_cast<std::size_t>(c) * hp * wp;
  for (int y = 0; y < hp; ++y) std::memcpy(dst + static_cast<std::size_t>(y) * wp, padded.ptr<float>(y), sizeof(float) * wp);
}

double value(const cv::Mat& rgb, int y, int x, int c) {
  return rgb.depth() == CV_16U ? rgb.at<cv::Vec3w>(y, x)[c] : rgb.at<cv::Vec3b>(y, x)[c];
}

cv::Mat make_blob(int channels, int hp, int wp) {
  const int dims[4] = {1, channels, hp, wp};
  return cv::Mat(4, dims, CV_32F, cv::Scalar(0));
}

}  // namespace

Inpainter Inpainter::load(const std::string& dir, const Options& options) {
  const Manifest m = read_manifest(dir, options.precision);
  Inpainter p;
  p.canny_ = m.canny;
  p.blend_ = m.blend;
  p.hd_ = options.hd;
  p.hd_params_ = options.hd_params;
  p.max_network_pixels_ = options.max_network_pixels;
  auto make = options.engine == EngineKind::OpenCV ? make_opencv_engine : make_ort_engine;
  p.edge_ = make(m.edge);
  p.inpaint_ = make(m.inpaint);
  return p;
}

cv::Mat Inpainter::inpaint(const cv::Mat& rgb, const cv::Mat& mask) const {
  if (rgb.type() != CV_8UC3 && rgb.type() != CV_16UC3) throw Error("image: expected 8- or 16-bit RGB (CV_8UC3, CV_16UC3)");
  if (mask.type() != CV_8UC1) throw Error("mask: expected 8-bit single channel (CV_8UC1)");
  if (rgb.size() != mask.size())
    throw Error("mask is " + std::to_string(mask.cols) + "x" + std::to_string(mask.rows) + " but the image is " +
                std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows) + "; expected the same size");
  if (std::min(rgb.rows, rgb.cols) < kMinSide) throw Error("image smaller than " + std::to_string(kMinSide) + " px");
  const cv::Mat hole = mask > 127;
  if (cv::countNonZero(hole) == 0) return rgb.clone();
  cv::Mat rgb8 = rgb;
  if (rgb.depth() == CV_16U) {  // the generators' and composite's depth: rint(v / 65535 * 255), as Python
    rgb8 = cv::Mat(rgb.size(), CV_8UC3);
    for (int y = 0; y < rgb.rows; ++y)
      for (int x = 0; x < rgb.cols; ++x)
        for (int c = 0; c < 3; ++c)
          rgb8.at<cv::Vec3b>(y, x)[c] = static_cast<unsigned char>(std::nearbyint(rgb.at<cv::Vec3w>(y, x)[c] / 65535.0 * 255.0));
  }
  const bool crops = hd_ == HDStrategy::Crop && std::max(rgb.rows, rgb.cols) > hd_params_.trigger;
  const cv::Mat painted = crops ? inpaint_crops([this](const cv::Mat& p, const cv::Mat& m) { return whole(p, m); }, rgb, rgb8,
                                                hole, hd_params_)
                                : whole(rgb, hole);
  if (rgb.depth() == CV_8U) return painted;
  cv::Mat out = rgb.clone();  // 16 bits: known pixels exactly the file's, the hole's 8-bit values x257
  for (int y = 0; y < rgb.rows; ++y)
    for (int x = 0; x < rgb.cols; ++x)
      if (hole.at<unsigned char>(y, x))
        for (int c = 0; c < 3; ++c) out.at<cv::Vec3w>(y, x)[c] = static_cast<unsigned short>(painted.at<cv::Vec3b>(y, x)[c] * 257);
  return out;
}

// One whole image (or crop): pixels CV_8UC3 or CV_16UC3 (gray and Canny from the file's own values, as
// Python), hole CV_8UC1 (non-zero = hole). Returns the CV_8UC3 composite.
cv::Mat Inpainter::whole(const cv::Mat& rgb, const cv::Mat& mask) const {
  const int h = rgb.rows, w = rgb.cols;
  const unsigned long long pixels = static_cast<unsigned long long>(h) * w;
  if (max_network_pixels_ && pixels > max_network_pixels_)
    throw Error("the networks would run on " + std::to_string(w) + "x" + std::to_string(h) + " = " + std::to_string(pixels) +
                " pixels at once (" + (hd_ == HDStrategy::Crop ? "the hole's crop" : "the whole image") + "); at most " +
                std::to_string(max_network_pixels_) + " (--max-network-pixels" +
                (hd_ == HDStrategy::Crop ? ")" : "; --hd-strategy crop runs crops around the holes)"));
  const bool deep = rgb.depth() == CV_16U;
  const double scale = deep ? 65535.0 : 255.0;
  cv::Mat rgb8(h, w, CV_8UC3);
  const std::size_t n = static_cast<std::size_t>(h) * w;
  std::vector<double> gray(n);
  std::vector<unsigned char> known(n);
  cv::Mat hole(h, w, CV_32F), image[3] = {cv::Mat(h, w, CV_32F), cv::Mat(h, w, CV_32F), cv::Mat(h, w, CV_32F)};
  cv::Mat gray32(h, w, CV_32F);
  bool any_hole = false;
  for (int y = 0; y < h; ++y) {
    const unsigned char* mk = mask.ptr<unsigned char>(y);
    for (int x = 0; x < w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * w + x;
      const double r = value(rgb, y, x, 0) / scale, g = value(rgb, y, x, 1) / scale, b = value(rgb, y, x, 2) / scale;
      for (int c = 0; c < 3; ++c)
        rgb8.at<cv::Vec3b>(y, x)[c] = deep ? static_cast<unsigned char>(std::nearbyint((c == 0 ? r : c == 1 ? g : b) * 255.0))
                                           : rgb.at<cv::Vec3b>(y, x)[c];
      gray[i] = r * kGray[0] + g * kGray[1] + b * kGray[2];
      const bool is_hole = mk[x] != 0;
      any_hole |= is_hole;
      known[i] = !is_hole;
      hole.at<float>(y, x) = is_hole ? 1.0f : 0.0f;
      gray32.at<float>(y, x) = static_cast<float>(gray[i]);
      image[0].at<float>(y, x) = static_cast<float>(r);
      image[1].at<float>(y, x) = static_cast<float>(g);
      image[2].at<float>(y, x) = static_cast<float>(b);
    }
  }
  if (!any_hole) return rgb8;
  const std::vector<unsigned char> edges_u8 = canny(gray, known, h, w, canny_);
  cv::Mat edges(h, w, CV_32F);
  for (std::size_t i = 0; i < n; ++i) edges.at<float>(static_cast<int>(i / w), static_cast<int>(i % w)) = edges_u8[i];
  const int pad_h = (kMultiple - h % kMultiple) % kMultiple, pad_w = (kMultiple - w % kMultiple) % kMultiple;
  const int hp = h + pad_h, wp = w + pad_w;
  cv::Mat gray_b = make_blob(1, hp, wp), edges_b = make_blob(1, hp, wp), mask_b = make_blob(1, hp, wp), image_b = make_blob(3, hp, wp);
  put_plane(gray32, gray_b, 0, pad_h, pad_w);
  put_plane(edges, edges_b, 0, pad_h, pad_w);
  put_plane(hole, mask_b, 0, pad_h, pad_w);
  for (int c = 0; c < 3; ++c) put_plane(image[c], image_b, c, pad_h, pad_w);
  const cv::Mat pred = edge_->run({{"gray", gray_b}, {"edges", edges_b}, {"mask", mask_b}});
  // What the inpaint generator was trained on: predicted edges in the hole, Canny outside.
  cv::Mat guide = make_blob(1, hp, wp);
  const float *pp = pred.ptr<float>(), *ep = edges_b.ptr<float>(), *mp = mask_b.ptr<float>();
  float* gp = guide.ptr<float>();
  for (std::size_t i = 0; i < static_cast<std::size_t>(hp) * wp; ++i) gp[i] = pp[i] * mp[i] + ep[i] * (1.0f - mp[i]);
  const cv::Mat out = inpaint_->run({{"image", image_b}, {"edges", guide}, {"mask", mask_b}});
  const float* op = out.ptr<float>();
  cv::Mat result = rgb8.clone();
  if (blend_ == "poisson") {
    poisson_blend(op, hp, wp, rgb8, mask, result);
    return result;
  }
  for (int y = 0; y < h; ++y) {
    const unsigned char* mk = mask.ptr<unsigned char>(y);
    cv::Vec3b* dst = result.ptr<cv::Vec3b>(y);
    for (int x = 0; x < w; ++x) {
      if (!mk[x]) continue;  // known pixels stay byte-identical
      for (int c = 0; c < 3; ++c) {
        const float v = std::nearbyint(op[(static_cast<std::size_t>(c) * hp + y) * wp + x] * 255.0f);
        dst[x][c] = static_cast<unsigned char>(std::min(255.0f, std::max(0.0f, v)));
      }
    }
  }
  return result;
}

std::vector<cv::Mat> Inpainter::inpaint_batch(const std::vector<cv::Mat>& rgbs, const std::vector<cv::Mat>& masks) const {
  if (rgbs.size() != masks.size()) throw Error("inpaint_batch: as many masks as images expected");
  std::vector<cv::Mat> out;
  out.reserve(rgbs.size());
  for (std::size_t i = 0; i < rgbs.size(); ++i) out.push_back(inpaint(rgbs[i], masks[i]));
  return out;
}

}  // namespace edgeinpaint
