#pragma once
#include <string>

#include "edgeinpaint/canny.hpp"

namespace edgeinpaint {

struct Manifest {
  std::string edge, inpaint;  // verified ONNX paths
  CannyParams canny;
  std::string blend = "paste";  // weights.blend: "paste" (the paper) or "poisson"
};

std::string sha256_file(const std::string& path);
Manifest read_manifest(const std::string& dir, const std::string& precision);

}  // namespace edgeinpaint
