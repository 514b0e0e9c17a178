// ONNX Runtime engine (compiled only with -DONNXRUNTIME_ROOT=...). Written against the ORT C++ API
// (onnxruntime_cxx_api.h: Ort::Env, Ort::Session, Ort::Value::CreateTensor, Session::Run); not
// built in this project's CI, which has no ORT SDK.
#include <onnxruntime_cxx_api.h>

#include "edgeinpaint/inpainter.hpp"

namespace edgeinpaint {
namespace {

class OrtEngine : public Engine {
 public:
  explicit OrtEngine(const std::string& path)
      : env_(ORT_LOGGING_LEVEL_WARNING, "edgeinpaint"), session_(env_, path.c_str(), Ort::SessionOptions{}) {
    Ort::AllocatorWithDefaultOptions alloc;
    output_ = session_.GetOutputNameAllocated(0, alloc).get();
  }
  cv::Mat run(const std::vector<std::pair<std::string, cv::Mat>>& inputs) override {
    auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    std::vector<Ort::Value> values;
    std::vector<const char*> names;
    for (const auto& [name, blob] : inputs) {
      std::vector<int64_t> shape(blob.size.p, blob.size.p + blob.dims);
      values.push_back(Ort::Value::CreateTensor<float>(memory, reinterpret_cast<float*>(blob.data), blob.total(),
                                                       shape.data(), shape.size()));
      names.push_back(name.c_str());
    }
    const char* out_name = output_.c_str();
    auto outs = session_.Run(Ort::RunOptions{nullptr}, names.data(), values.data(), values.size(), &out_name, 1);
    auto info = outs[0].GetTensorTypeAndShapeInfo();
    std::vector<int> dims;
    for (auto d : info.GetShape()) dims.push_back(static_cast<int>(d));
    cv::Mat result(static_cast<int>(dims.size()), dims.data(), CV_32F);
    std::memcpy(result.data, outs[0].GetTensorData<float>(), result.total() * sizeof(float));
    return result;
  }

 private:
  Ort::Env env_;
  Ort::Session session_;
  std::string output_;
};

}  // namespace

std::shared_ptr<Engine> make_ort_engine(const std::string& onnx_path) { return std::make_shared<OrtEngine>(onnx_path); }

}  // namespace edgeinpaint
