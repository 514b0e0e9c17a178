// edgeinpaint-cpp --artifacts DIR --input FILE|DIR --mask FILE|DIR --output DIR [--precision fp32]
//                 [--engine opencv|onnxruntime] [--hd-strategy crop|original] [--max-pixels 16000000]
//                 [--max-network-pixels 4000000]
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <fstream>
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

// Width and height from the file's header, without decoding (PNG IHDR, JPEG SOFn, BMP, WebP VP8/VP8L/VP8X,
// TIFF IFD0); {0, 0} when the format is not recognised (the decoder then decides).
std::pair<std::uint64_t, std::uint64_t> header_size(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> b(1 << 16);
  in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  const std::size_t n = static_cast<std::size_t>(in.gcount());
  auto be16 = [&](std::size_t i) { return i + 2 <= n ? (std::uint64_t{b[i]} << 8) | b[i + 1] : 0; };
  auto le16 = [&](std::size_t i) { return i + 2 <= n ? (std::uint64_t{b[i + 1]} << 8) | b[i] : 0; };
  auto be32 = [&](std::size_t i) { return (be16(i) << 16) | be16(i + 2); };
  auto le32 = [&](std::size_t i) { return (le16(i + 2) << 16) | le16(i); };
  if (n >= 24 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return {be32(16), be32(20)};
  if (n >= 26 && b[0] == 'B' && b[1] == 'M') {
    const auto h = le32(22);
    return {le32(18), h > 0x7fffffffu ? 0x100000000u - h : h};  // negative height: top-down rows
  }
  if (n >= 30 && std::memcmp(b.data(), "RIFF", 4) == 0 && std::memcmp(b.data() + 8, "WEBP", 4) == 0) {
    if (std::memcmp(b.data() + 12, "VP8X", 4) == 0)
      return {1 + (b[24] | (b[25] << 8) | (std::uint64_t{b[26]} << 16)), 1 + (b[27] | (b[28] << 8) | (std::uint64_t{b[29]} << 16))};
    if (std::memcmp(b.data() + 12, "VP8L", 4) == 0) {
      const std::uint64_t bits = le32(21);
      return {1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)};
    }
    if (std::memcmp(b.data() + 12, "VP8 ", 4) == 0) return {le16(26) & 0x3fff, le16(28) & 0x3fff};
  }
  if (n >= 4 && b[0] == 0xff && b[1] == 0xd8) {  // JPEG: walk the markers to the first SOFn
    std::size_t i = 2;
    while (i + 9 < n && b[i] == 0xff) {
      const unsigned char marker = b[i + 1];
      if (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc)
        return {be16(i + 7), be16(i + 5)};
      i += 2 + be16(i + 2);
    }
  }
  if (n >= 8 && (std::memcmp(b.data(), "II*\0", 4) == 0 || std::memcmp(b.data(), "MM\0*", 4) == 0)) {
    const bool le = b[0] == 'I';
    auto u16 = [&](std::size_t i) { return le ? le16(i) : be16(i); };
    auto u32 = [&](std::size_t i) { return le ? le32(i) : be32(i); };
    const std::size_t ifd = u32(4);
    std::uint64_t w = 0, h = 0;
    for (std::size_t k = 0, count = u16(ifd); k < count && ifd + 2 + 12 * (k + 1) <= n; ++k) {
      const std::size_t e = ifd + 2 + 12 * k;
      const auto tag = u16(e), type = u16(e + 2);
      const auto value = type == 3 ? u16(e + 8) : u32(e + 8);
      if (tag == 256) w = value;
      if (tag == 257) h = value;
    }
    return {w, h};
  }
  return {0, 0};
}

// A mask file as `edgeinpaint run` reads it: gray = skimage's rgb2gray (0.2125 R + 0.7154 G + 0.0721 B, alpha
// ignored) on the 8-bit scale (16-bit values / 257), hole = gray > 127; a mask of only 0 and 1 (numpy and
// segmentation tools write them) is 1 = hole, with a note. Returns CV_8UC1, 255 = hole.
cv::Mat read_mask(const fs::path& path) {
  const cv::Mat raw = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  if (raw.empty()) throw Error(path.string() + ": cannot decode mask");
  if (raw.depth() != CV_8U && raw.depth() != CV_16U)
    throw Error(path.string() + ": mask: expected 8- or 16-bit pixels");
  const double unit = raw.depth() == CV_16U ? 257.0 : 1.0;
  const int channels = raw.channels();
  cv::Mat gray(raw.size(), CV_64F);
  for (int y = 0; y < raw.rows; ++y)
    for (int x = 0; x < raw.cols; ++x) {
      auto at = [&](int c) {
        return raw.depth() == CV_16U ? static_cast<double>(raw.ptr<unsigned short>(y)[x * channels + c])
                                     : static_cast<double>(raw.ptr<unsigned char>(y)[x * channels + c]);
      };
      // OpenCV orders colour planes B, G, R
      gray.at<double>(y, x) = channels >= 3 ? (at(2) / unit) * 0.2125 + (at(1) / unit) * 0.7154 + (at(0) / unit) * 0.0721
                                            : at(0) / unit;
    }
  cv::Mat hole = gray > 127.0;
  double top = 0;
  cv::minMaxLoc(gray, nullptr, &top);
  if (cv::countNonZero(hole) == 0 && top == 1.0 && cv::countNonZero((gray != 0.0) & (gray != 1.0)) == 0) {
    std::cerr << "note: " << path.string() << ": mask holds only 0 and 1; read as 1 = hole\n";
    hole = gray == 1.0;
  }
  return hole;
}

// An image at its own depth: CV_8UC3 or CV_16UC3 in RGB order (grey replicated, alpha dropped).
cv::Mat read_image(const fs::path& path) {
  cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_ANYDEPTH | cv::IMREAD_COLOR);
  if (bgr.empty()) throw Error(path.string() + ": cannot decode image");
  if (bgr.depth() != CV_8U && bgr.depth() != CV_16U) throw Error(path.string() + ": expected 8- or 16-bit pixels");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

// 16 bits are kept where the format holds them (PNG, TIFF); elsewhere rounded to 8 (as Python writes).
cv::Mat for_format(const cv::Mat& rgb, const fs::path& target) {
  std::string e = target.extension().string();
  for (auto& ch : e) ch = static_cast<char>(std::tolower(ch));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  if (bgr.depth() == CV_16U && e != ".png" && e != ".tif" && e != ".tiff") {
    cv::Mat eight(bgr.size(), CV_8UC3);
    for (int y = 0; y < bgr.rows; ++y)
      for (int x = 0; x < bgr.cols; ++x)
        for (int c = 0; c < 3; ++c)
          eight.at<cv::Vec3b>(y, x)[c] = static_cast<unsigned char>(std::nearbyint(bgr.at<cv::Vec3w>(y, x)[c] / 65535.0 * 255.0));
    return eight;
  }
  return bgr;
}

bool inside(const fs::path& path, const fs::path& folder) {
  const auto rel = path.lexically_relative(folder);
  return !rel.empty() && *rel.begin() != "..";
}

// The run's safety rules, as `edgeinpaint run` applies them (core/jobs.py), checked before any work:
// the output folder is not the input or mask folder (symlinks resolved) nor inside the mask folder, and
// no output replaces an input image or mask.
void refuse_unsafe_outputs(const fs::path& input, const fs::path& masks, const fs::path& out_dir,
                           const std::vector<fs::path>& images) {
  const fs::path out = fs::weakly_canonical(out_dir);
  const fs::path in_folder = fs::weakly_canonical(fs::is_directory(input) ? input : input.parent_path());
  const bool mask_dir = fs::is_directory(masks);
  const fs::path mask_folder = fs::weakly_canonical(mask_dir ? masks : masks.parent_path());
  for (const auto& [kind, folder] : {std::pair<std::string, fs::path>{"input", in_folder}, {"mask", mask_folder}}) {
    if (out == folder || (kind == "mask" && mask_dir && inside(out, folder)))
      throw Error("--output " + out_dir.string() + " is " + (out == folder ? "" : "inside ") + "the " + kind +
                  " folder " + folder.string() + ": the outputs would replace or mix with the " + kind +
                  "s; choose another output folder");
  }
  for (const auto& image : images) {
    const fs::path target = fs::weakly_canonical(out_dir / image.filename());
    const fs::path mask = find_mask(masks, image);
    if (target == fs::weakly_canonical(image) || (!mask.empty() && target == fs::weakly_canonical(mask)))
      throw Error(target.string() + ": the output would overwrite an input file; choose another output folder");
  }
}

// "<file>: <reason>" unless the reason already names the file.
std::string naming(const fs::path& file, const std::string& reason) {
  return reason.rfind(file.string(), 0) == 0 ? reason : file.string() + ": " + reason;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args = {
      {"--precision", "fp32"},
      {"--engine", "opencv"},
      {"--hd-strategy", "crop"},
      {"--max-pixels", "16000000"},
      {"--max-network-pixels", "4000000"}};
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  for (const char* need : {"--artifacts", "--input", "--mask", "--output"}) {
    if (!args.count(need)) {
      std::cerr << "usage: edgeinpaint-cpp --artifacts DIR --input FILE|DIR --mask FILE|DIR --output DIR "
                   "[--precision fp32] [--engine opencv|onnxruntime] [--hd-strategy crop|original] "
                   "[--max-pixels N] [--max-network-pixels N]\n";
      return 2;
    }
  }
  int done = 0, failed = 0;
  try {
    // Images above --max-pixels are refused from their header, before decoding: a small PNG of 30000x30000
    // would decode into 19 GB (OpenCV's own OPENCV_IO_MAX_IMAGE_PIXELS is read when the library loads, too
    // early to set here). The default is `edgeinpaint run`'s. Larger images are inpainted in crops around
    // their holes (--hd-strategy crop); --max-network-pixels bounds one network call, because OpenCV's DNN
    // module needs ~4 GB at 2048x1536 and crashes inside above ~5 MP.
    auto count = [&](const std::string& flag) {
      const std::string v = args[flag];
      if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string::npos)
        throw Error(flag + " " + v + ": expected a number of pixels");
      return std::stoull(v);
    };
    const std::string max_pixels = args["--max-pixels"];
    const std::uint64_t pixel_limit = count("--max-pixels");
    edgeinpaint::Options options;
    options.precision = args["--precision"];
    options.engine = args["--engine"] == "onnxruntime" ? edgeinpaint::EngineKind::OnnxRuntime : edgeinpaint::EngineKind::OpenCV;
    if (args["--hd-strategy"] != "crop" && args["--hd-strategy"] != "original")
      throw Error("--hd-strategy " + args["--hd-strategy"] + ": expected crop or original");
    options.hd = args["--hd-strategy"] == "crop" ? edgeinpaint::HDStrategy::Crop : edgeinpaint::HDStrategy::Original;
    options.max_network_pixels = count("--max-network-pixels");
    const auto inpainter = edgeinpaint::Inpainter::load(args["--artifacts"], options);
    const fs::path out_dir = args["--output"];
    const auto images = list_images(args["--input"]);
    refuse_unsafe_outputs(args["--input"], args["--mask"], out_dir, images);
    fs::create_directories(out_dir);
    for (const auto& image_path : images) {
      try {
        const fs::path mask_path = find_mask(args["--mask"], image_path);
        if (mask_path.empty()) throw Error(image_path.string() + ": no mask with the same stem");
        for (const auto& file : {image_path, mask_path}) {
          const auto [w, h] = header_size(file);
          if (w * h > pixel_limit)
            throw Error(file.string() + ": " + std::to_string(w) + "x" + std::to_string(h) + " = " +
                        std::to_string(w * h) + " pixels; at most " + max_pixels +
                        " are accepted (--max-pixels)");
        }
        const cv::Mat rgb = read_image(image_path);
        cv::Mat mask = read_mask(mask_path);
        if (mask.size() != rgb.size()) {  // as `edgeinpaint run`: resized with nearest neighbour, and said
          std::cerr << "warning: " << mask_path.string() << ": mask is " << mask.cols << "x" << mask.rows
                    << ", image is " << rgb.cols << "x" << rgb.rows << "; resized with nearest neighbour\n";
          cv::Mat resized;
          cv::resize(mask, resized, rgb.size(), 0, 0, cv::INTER_NEAREST);
          mask = resized;
        }
        const cv::Mat bgr = for_format(inpainter.inpaint(rgb, mask), image_path);
        const fs::path target = out_dir / image_path.filename();
        const fs::path tmp = out_dir / ("." + image_path.stem().string() + ".tmp" + image_path.extension().string());
        if (!cv::imwrite(tmp.string(), bgr)) throw Error(target.string() + ": cannot write output");
        fs::rename(tmp, target);  // atomic: never a partial output
        ++done;
      } catch (const cv::Exception& e) {
        std::cerr << "failed: " << naming(image_path, e.msg) << "\n";
        ++failed;
      } catch (const std::exception& e) {  // Error, filesystem and allocation failures: per file, named
        std::cerr << "failed: " << naming(image_path, e.what()) << "\n";
        ++failed;
      }
    }
  } catch (const std::exception& e) {  // never an abort (rc 134): one line, exit 1
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cout << "done " << done << ", failed " << failed << "\n";
  return failed ? 1 : 0;
}
