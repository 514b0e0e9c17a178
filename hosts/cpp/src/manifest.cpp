// Manifest reading and sha256 verification (the same checks as edgeinpaint.export.manifest).
#include <filesystem>
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

namespace {

// The manifest is a few KB; anything much larger is not one (and is never parsed into memory).
constexpr std::uintmax_t kManifestMaxBytes = 8u << 20;

// A regular file directly inside `dir` (no symlink on the way, nothing outside), as the Python runtime
// requires of every artifact (edgeinpaint.core.manifest.verify_file).
std::string confined(const std::string& dir, const std::string& name, const std::string& manifest) {
  namespace fs = std::filesystem;
  const fs::path rel(name);
  if (name.empty() || rel.is_absolute()) throw Error(manifest + ": file name '" + name + "' is not a plain name");
  fs::path at = fs::path(dir);
  for (const auto& part : rel) {
    if (part == ".." || part == ".") throw Error(manifest + ": file name '" + name + "' leaves the artifacts folder");
    at /= part;
    if (fs::is_symlink(at)) throw Error(at.string() + ": is a symlink; artifact files must be regular files");
  }
  if (!fs::is_regular_file(at)) throw Error(at.string() + ": listed in the manifest but missing or not a regular file");
  return at.string();
}

}  // namespace

Manifest read_manifest(const std::string& dir, const std::string& precision) {
  try {
    return read_manifest_unchecked(dir, precision);
  } catch (const nlohmann::json::exception& e) {
    // A field missing or of another type (e.g. no sha256): one line naming the manifest, never an abort.
    throw Error(dir + "/manifest.json: malformed manifest (" + std::string(e.what()) + ")");
  }
}

Manifest read_manifest_unchecked(const std::string& dir, const std::string& precision) {
  namespace fs = std::filesystem;
  const std::string path = dir + "/manifest.json";
  if (fs::is_symlink(path)) throw Error(path + ": is a symlink; expected the artifacts folder's own manifest");
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (!ec && size > kManifestMaxBytes)
    throw Error(path + ": " + std::to_string(size) + " bytes; a manifest is a few KB (at most 8 MiB accepted)");
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
    const std::string name = entry.at("file").get<std::string>();
    if (role == "canny" && entry.contains("options") && entry["options"].contains("gaussian_kernel")) {
      out.canny.kernel = entry["options"]["gaussian_kernel"].get<std::vector<double>>();
    }
    for (const auto& [want_role, names] : expected) {
      if (role != want_role || prec != precision) continue;
      const std::string file = confined(dir, name, path);
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
