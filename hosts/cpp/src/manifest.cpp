// Manifest reading and sha256 verification (the same checks as edgeinpaint.export.manifest).
#include <fstream>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "edgeinpaint/inpainter.hpp"
#include "manifest.hpp"

namespace edgeinpaint {

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  std::ostringstream hex;
  for (unsigned int i = 0; i < len; ++i) hex << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(digest[i]);
  return hex.str();
}

Manifest read_manifest(const std::string& dir, const std::string& precision) {
  const std::string path = dir + "/manifest.json";
  std::ifstream in(path);
  if (!in) throw Error(path + ": no manifest; expected an artifacts directory written by `edgeinpaint export`");
  nlohmann::json m;
  try {
    in >> m;
  } catch (const std::exception& e) {
    throw Error(path + ": malformed manifest (" + e.what() + ")");
  }
  Manifest out;
  try {
    const auto& canny = m.at("weights").at("canny");
    out.canny.sigma = canny.at("sigma").get<double>();
    out.canny.low = canny.at("low").get<double>();
    out.canny.high = canny.at("high").get<double>();
  } catch (const std::exception& e) {
    throw Error(path + ": no weights.canny settings (" + std::string(e.what()) + ")");
  }
  out.blend = m.at("weights").value("blend", std::string("paste"));
  if (out.blend != "paste" && out.blend != "poisson")
    throw Error(path + ": unknown weights.blend '" + out.blend + "'; this host knows paste and poisson");
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"edge_generator", {"gray", "edges", "mask"}}, {"inpaint_generator", {"image", "edges", "mask"}}};
  for (const auto& entry : m.at("files")) {
    const std::string role = entry.value("role", ""), prec = entry.value("precision", "");
    const std::string file = dir + "/" + entry.at("file").get<std::string>();
    if (role == "canny" && entry.contains("options") && entry["options"].contains("gaussian_kernel")) {
      out.canny.kernel = entry["options"]["gaussian_kernel"].get<std::vector<double>>();
    }
    for (const auto& [want_role, names] : expected) {
      if (role != want_role || prec != precision) continue;
      std::vector<std::string> got;
      for (const auto& spec : entry.at("inputs")) {
        if (spec.value("dtype", "") != "float32" || spec.at("shape").size() != 4)
          throw Error(file + ": unknown input spec " + spec.dump() + "; this host reads float32 NCHW graphs");
        got.push_back(spec.at("name").get<std::string>());
      }
      if (got != names)
        throw Error(file + ": unknown I/O spec (inputs " + nlohmann::json(got).dump() + ", expected " +
                    nlohmann::json(names).dump() + ")");
      const std::string digest = sha256_file(file);
      if (digest != entry.at("sha256").get<std::string>())
        throw Error(file + ": sha256 does not match the manifest; the file was modified. Re-run `edgeinpaint export`");
      (role == "edge_generator" ? out.edge : out.inpaint) = file;
    }
  }
  if (out.edge.empty() || out.inpaint.empty())
    throw Error(dir + ": no " + precision + " generators in the manifest; run `edgeinpaint export --precision " + precision + "`");
  if (out.canny.kernel.empty()) throw Error(dir + ": manifest lacks the Canny kernel; re-run `edgeinpaint export`");
  return out;
}

}  // namespace edgeinpaint
