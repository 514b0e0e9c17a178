// edgeinpaint-cpp --artifacts DIR --input FILE|DIR --mask FILE|DIR --output DIR [--precision fp32] [--engine opencv|onnxruntime]
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "edgeinpaint/inpainter.hpp"

namespace fs = std::filesystem;
using edgeinpaint::Error;

namespace {

bool is_image(const fs::path& p) {
  static const std::vector<std::string> exts = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"};
  std::string e = p.extension().string();
  for (auto& ch : e) ch = static_cast<char>(std::tolower(ch));
  for (const auto& x : exts)
    if (e == x) return true;
  return false;
}

std::vector<fs::path> list_images(const fs::path& root) {
  if (fs::is_regular_file(root)) return {root};
  if (!fs::is_directory(root)) throw Error(root.string() + ": input not found; expected an image file or a directory");
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_regular_file() && is_image(e.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

fs::path find_mask(const fs::path& mask_root, const fs::path& image) {
  if (fs::is_regular_file(mask_root)) return mask_root;
  for (const char* ext : {".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg", ".jpeg"}) {
    fs::path p = mask_root / (image.stem().string() + ext);
    if (fs::is_regular_file(p)) return p;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args = {{"--precision", "fp32"}, {"--engine", "opencv"}};
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  for (const char* need : {"--artifacts", "--input", "--mask", "--output"}) {
    if (!args.count(need)) {
      std::cerr << "usage: edgeinpaint-cpp --artifacts DIR --input FILE|DIR --mask FILE|DIR --output DIR "
                   "[--precision fp32] [--engine opencv|onnxruntime]\n";
      return 2;
    }
  }
  int done = 0, failed = 0;
  try {
    edgeinpaint::Options options;
    options.precision = args["--precision"];
    options.engine = args["--engine"] == "onnxruntime" ? edgeinpaint::EngineKind::OnnxRuntime : edgeinpaint::EngineKind::OpenCV;
    const auto inpainter = edgeinpaint::Inpainter::load(args["--artifacts"], options);
    const fs::path out_dir = args["--output"];
    fs::create_directories(out_dir);
    for (const auto& image_path : list_images(args["--input"])) {
      try {
        const fs::path mask_path = find_mask(args["--mask"], image_path);
        if (mask_path.empty()) throw Error(image_path.string() + ": no mask with the same stem");
        cv::Mat bgr = cv::imread(image_path.string(), cv::IMREAD_COLOR);
        if (bgr.empty()) throw Error(image_path.string() + ": cannot decode image");
        cv::Mat mask = cv::imread(mask_path.string(), cv::IMREAD_GRAYSCALE);
        if (mask.empty()) throw Error(mask_path.string() + ": cannot decode mask");
        cv::Mat rgb;
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
        cv::Mat result = inpainter.inpaint(rgb, mask);
        cv::cvtColor(result, bgr, cv::COLOR_RGB2BGR);
        const fs::path target = out_dir / image_path.filename();
        const fs::path tmp = out_dir / ("." + image_path.stem().string() + ".tmp" + image_path.extension().string());
        if (!cv::imwrite(tmp.string(), bgr)) throw Error(target.string() + ": cannot write output");
        fs::rename(tmp, target);  // atomic: never a partial output
        ++done;
      } catch (const Error& e) {
        std::cerr << "failed: " << e.what() << "\n";
        ++failed;
      } catch (const cv::Exception& e) {
        std::cerr << "failed: " << image_path.string() << ": " << e.msg << "\n";
        ++failed;
      }
    }
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cout << "done " << done << ", failed " << failed << "\n";
  return failed ? 1 : 0;
}
