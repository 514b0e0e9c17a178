// edgeinpaint C++ host: load an artifacts directory written by `edgeinpaint export` and inpaint
// 8- and 16-bit images exactly as the Python runtime does (Canny -> edge generator -> edge composite ->
// inpaint generator -> composite, reflect padding to a multiple of 4, rounding; crops around the holes
// of large images).
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

// What to do with images whose longer side is above HDParams::trigger (as `edgeinpaint run --hd-strategy`):
// Crop inpaints boxes around the hole's pieces with context, blended where a stroke was cut; Original
// runs the networks on the whole image.
enum class HDStrategy { Crop, Original };

struct HDParams {
  int trigger = 1024;     // longer side above which crops are used
  double margin = 0.15;   // context as a fraction of the piece's longer side ...
  int min_margin = 32;    // ... at least this many px
  int cell = 128;         // grid that cuts long strokes into pieces
  int overlap = 24;       // px over which neighbouring boxes are blended across a cut
};

struct Options {
  std::string precision = "fp32";
  EngineKind engine = EngineKind::OpenCV;
  HDStrategy hd = HDStrategy::Crop;
  HDParams hd_params;
  // Largest image or crop one network call may take (0: no limit); above it the file fails with a reason.
  unsigned long long max_network_pixels = 0;
};

class Inpainter {
 public:
  // Reads manifest.json, verifies every file's sha256, refuses unknown I/O specs.
  static Inpainter load(const std::string& artifacts_dir, const Options& options = {});

  // rgb: CV_8UC3 or CV_16UC3 in RGB order; mask: CV_8UC1, > 127 = hole; same size. Returns the input's
  // type: known pixels untouched, a 16-bit image's hole at the networks' 8 bits x 257 (as Python).
  cv::Mat inpaint(const cv::Mat& rgb, const cv::Mat& mask) const;
  // The same for several images (each may have its own size).
  std::vector<cv::Mat> inpaint_batch(const std::vector<cv::Mat>& rgbs, const std::vector<cv::Mat>& masks) const;

  const CannyParams& canny_params() const { return canny_; }
  const std::string& blend() const { return blend_; }

 private:
  cv::Mat whole(const cv::Mat& rgb, const cv::Mat& hole) const;  // one image or crop -> CV_8UC3

  std::shared_ptr<Engine> edge_, inpaint_;
  HDStrategy hd_ = HDStrategy::Crop;
  HDParams hd_params_;
  unsigned long long max_network_pixels_ = 0;
  CannyParams canny_;
  std::string blend_ = "paste";
};

std::shared_ptr<Engine> make_opencv_engine(const std::string& onnx_path);
std::shared_ptr<Engine> make_ort_engine(const std::string& onnx_path);  // throws unless built with ONNX Runtime

}  // namespace edgeinpaint
