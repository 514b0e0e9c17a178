// OpenCV DNN engine: reads the exported generator ONNX (Debian's libopencv-dev is enough).
//
// OpenCV's built-in InstanceNormalization (its MVN layer) divides by (std + eps) where ONNX defines
// sqrt(var + eps); on near-uniform feature maps the two differ by orders of magnitude and the
// output drifts far from ONNX Runtime's. The importer gives built-in layers priority over custom
// ones, so the op is renamed in the (already sha256-verified) bytes to a same-length custom name
// and implemented here exactly as the ONNX operator specification says.
#include <cmath>
#include <fstream>
#include <iterator>
#include <mutex>

#include <opencv2/dnn.hpp>
#include <opencv2/dnn/layer.details.hpp>

#include "edgeinpaint/inpainter.hpp"

namespace edgeinpaint {
namespace {

constexpr const char* kOnnxOp = "InstanceNormalization";
constexpr const char* kCustomOp = "EdgeinpaintInstanceNm";  // same length: the protobuf stays valid

class InstanceNormLayer : public cv::dnn::Layer {
 public:
  explicit InstanceNormLayer(const cv::dnn::LayerParams& params) : Layer(params) {
    eps_ = params.get<float>("epsilon", 1e-5f);
    if (params.blobs.size() != 2) throw Error("InstanceNormalization: expected constant scale and bias");
  }
  static cv::Ptr<cv::dnn::Layer> create(cv::dnn::LayerParams& params) { return cv::makePtr<InstanceNormLayer>(params); }

  bool getMemoryShapes(const std::vector<cv::dnn::MatShape>& inputs, const int, std::vector<cv::dnn::MatShape>& outputs,
                       std::vector<cv::dnn::MatShape>&) const override {
    outputs.assign(1, inputs[0]);
    return false;
  }

  void forward(cv::InputArrayOfArrays inputs_arr, cv::OutputArrayOfArrays outputs_arr, cv::OutputArrayOfArrays) override {
    std::vector<cv::Mat> inputs, outputs;
    inputs_arr.getMatVector(inputs);
    outputs_arr.getMatVector(outputs);
    const cv::Mat& x = inputs[0];
    const int n = x.size[0], c = x.size[1];
    const std::size_t plane = x.total() / (static_cast<std::size_t>(n) * c);
    const float* scale = blobs[0].ptr<float>();
    const float* bias = blobs[1].ptr<float>();
    for (int b = 0; b < n; ++b)
      for (int ch = 0; ch < c; ++ch) {
        const float* src = x.ptr<float>() + (static_cast<std::size_t>(b) * c + ch) * plane;
        float* dst = outputs[0].ptr<float>() + (static_cast<std::size_t>(b) * c + ch) * plane;
        double sum = 0.0, sq = 0.0;
        for (std::size_t i = 0; i < plane; ++i) sum += src[i];
        const double mean = sum / static_cast<double>(plane);
        for (std::size_t i = 0; i < plane; ++i) sq += (src[i] - mean) * (src[i] - mean);
        const double inv = 1.0 / std::sqrt(sq / static_cast<double>(plane) + eps_);  // ONNX: sqrt(var + eps)
        for (std::size_t i = 0; i < plane; ++i)
          dst[i] = static_cast<float>(scale[ch] * ((src[i] - mean) * inv) + bias[ch]);
      }
  }

 private:
  float eps_;
};

class OpenCVEngine : public Engine {
 public:
  explicit OpenCVEngine(const std::string& path) {
    static std::once_flag registered;
    std::call_once(registered, [] { cv::dnn::LayerFactory::registerLayer(kCustomOp, InstanceNormLayer::create); });
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open model");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string from = kOnnxOp, to = kCustomOp;
    for (std::size_t pos = 0; (pos = bytes.find(from, pos)) != std::string::npos; pos += to.size()) bytes.replace(pos, from.size(), to);
    try {
      net_ = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
    } catch (const cv::Exception& e) {
      throw Error(path + ": OpenCV DNN cannot read the model (" + e.msg + ")");
    }
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  }
  cv::Mat run(const std::vector<std::pair<std::string, cv::Mat>>& inputs) override {
    for (const auto& [name, blob] : inputs) net_.setInput(blob, name);
    return net_.forward().clone();
  }

 private:
  cv::dnn::Net net_;
};

}  // namespace

std::shared_ptr<Engine> make_opencv_engine(const std::string& onnx_path) {
  return std::make_shared<OpenCVEngine>(onnx_path);
}

#ifndef EDGEINPAINT_WITH_ORT
std::shared_ptr<Engine> make_ort_engine(const std::string&) {
  throw Error("this build has no ONNX Runtime engine; configure with -DONNXRUNTIME_ROOT=/path/to/onnxruntime");
}
#endif

}  // namespace edgeinpaint
