// edgeinpaint C++ host: load an artifacts directory written by `edgeinpaint export` and inpaint
// 8-bit images exactly as the Python runtime does (Canny -> edge generator -> edge composite ->
// inpaint generator -> composite, reflect padding to a multiple of 4, rounding).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "edgeinpaint/canny.hpp"

namespace edgeinpaint {

// User-facing error: bad artifacts, bad input. The CLI prints what() and exits 1.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One loaded network: named NCHW float32 inputs -> its single output.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual cv::Mat run(const std::vector<std::pair<std::string, cv::Mat>>& inputs) = 0;
};

enum class EngineKind { OpenCV, OnnxRuntime };

struct Options {
  std::string precision = "fp32";
  EngineKind engine = EngineKind::OpenCV;
};

class Inpainter {
 public:
  // Reads manifest.json, verifies every file's sha256, refuses unknown I/O specs.
  static Inpainter load(const std::string& artifacts_dir, const Options& options = {});

  // rgb: CV_8UC3 in RGB order; mask: CV_8UC1, > 127 = hole; same size. Returns CV_8UC3 RGB.
  cv::Mat inpaint(const cv::Mat& rgb, const cv::Mat& mask) const;
  // The same for several images (each may have its own size).
  std::vector<cv::Mat> inpaint_batch(const std::vector<cv::Mat>& rgbs, const std::vector<cv::Mat>& masks) const;

  const CannyParams& canny_params() const { return canny_; }
  const std::string& blend() const { return blend_; }

 private:
  std::shared_ptr<Engine> edge_, inpaint_;
  CannyParams canny_;
  std::string blend_ = "paste";
};

std::shared_ptr<Engine> make_opencv_engine(const std::string& onnx_path);
std::shared_ptr<Engine> make_ort_engine(const std::string& onnx_path);  // throws unless built with ONNX Runtime

}  // namespace edgeinpaint
