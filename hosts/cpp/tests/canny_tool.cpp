// canny-cpp GRAY.f64 KNOWN.u8 H W LOW HIGH KERNEL.f64 OUT.u8 — raw buffers, for the exactness test.
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "edgeinpaint/canny.hpp"

template <typename T>
std::vector<T> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const auto size = static_cast<std::size_t>(in.tellg());
  std::vector<T> v(size / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(size));
  return v;
}

int main(int argc, char** argv) {
  if (argc != 9) {
    std::cerr << "usage: canny-cpp GRAY.f64 KNOWN.u8 H W LOW HIGH KERNEL.f64 OUT.u8\n";
    return 2;
  }
  edgeinpaint::CannyParams p;
  p.low = std::stod(argv[5]);
  p.high = std::stod(argv[6]);
  p.kernel = read_raw<double>(argv[7]);
  const auto edges = edgeinpaint::canny(read_raw<double>(argv[1]), read_raw<unsigned char>(argv[2]), std::stoi(argv[3]),
                                        std::stoi(argv[4]), p);
  std::ofstream(argv[8], std::ios::binary).write(reinterpret_cast<const char*>(edges.data()), static_cast<std::streamsize>(edges.size()));
  return 0;
}
