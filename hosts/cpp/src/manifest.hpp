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
// Reads and verifies manifest.json; every problem (a missing field included) is an Error naming the file.
Manifest read_manifest(const std::string& dir, const std::string& precision);
Manifest read_manifest_unchecked(const std::string& dir, const std::string& precision);

}  // namespace edgeinpaint
