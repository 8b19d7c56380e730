#include "tools/npy.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/paramd-npy-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }

  std::string ReadBytes(const std::string& name) const {
    std::ifstream in(Path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  void WriteBytes(const std::string& name, const std::string& bytes) const {
    std::ofstream out(Path(name), std::ios::binary);
    out << bytes;
  }

  // Writes a valid 2x3 float32 file and returns its bytes.
  std::string ValidFile() const {
    const std::vector<float> values = {1, 2, 3, 4, 5, 6};
    EXPECT_TRUE(WriteNpy(Path("valid.npy"), {2, 3}, values).ok());
    return ReadBytes("valid.npy");
  }

  // Expects reading `bytes` to fail with InvalidArgument naming the file and
  // containing `what`.
  void ExpectRejected(const std::string& bytes, const std::string& what) {
    WriteBytes("bad.npy", bytes);
    absl::StatusOr<NpyArray> array = ReadNpy(Path("bad.npy"));
    ASSERT_FALSE(array.ok()) << "accepted a file that should fail: " << what;
    EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(array.status().message(), Path("bad.npy")))
        << array.status();
    EXPECT_TRUE(absl::StrContains(array.status().message(), what))
        << array.status();
  }

  std::string dir_;
};

TEST_F(NpyTest, Float32RoundTrip) {
  std::vector<float> values;
  for (int i = 0; i < 3 * 5; ++i) values.push_back(i * 0.37f - 2.5f);
  values[4] = std::numeric_limits<float>::denorm_min();
  ASSERT_TRUE(WriteNpy(Path("a.npy"), {3, 5}, values).ok());
  absl::StatusOr<NpyArray> array = ReadNpy(Path("a.npy"));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->type, NpyType::kFloat32);
  EXPECT_EQ(array->shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(array->floats, values);
  EXPECT_TRUE(array->uint64s.empty());
}

TEST_F(NpyTest, Uint64RoundTrip) {
  const std::vector<uint64_t> keys = {0, 1, 42, uint64_t{1} << 63,
                                      std::numeric_limits<uint64_t>::max()};
  ASSERT_TRUE(WriteNpy(Path("k.npy"), {5}, keys).ok());
  absl::StatusOr<NpyArray> array = ReadNpy(Path("k.npy"));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->type, NpyType::kUint64);
  EXPECT_EQ(array->shape, (std::vector<int64_t>{5}));
  EXPECT_EQ(array->uint64s, keys);
}

TEST_F(NpyTest, EmptyAndScalarShapesRoundTrip) {
  ASSERT_TRUE(WriteNpy(Path("e.npy"), {0, 4}, std::vector<float>()).ok());
  absl::StatusOr<NpyArray> empty = ReadNpy(Path("e.npy"));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->shape, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(empty->floats.empty());

  ASSERT_TRUE(WriteNpy(Path("s.npy"), {}, std::vector<float>{7.5f}).ok());
  absl::StatusOr<NpyArray> scalar = ReadNpy(Path("s.npy"));
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->floats, std::vector<float>{7.5f});
}

TEST_F(NpyTest, HeaderIsNumpyVersion1AlignedTo64Bytes) {
  const std::vector<std::vector<int64_t>> shapes = {
      {}, {7}, {3, 5}, {123456789, 2, 3, 4, 5, 6}};
  for (const std::vector<int64_t>& shape : shapes) {
    const std::string header = NpyHeader(NpyType::kFloat32, shape);
    ASSERT_GE(header.size(), 10u);
    EXPECT_EQ(header.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    const size_t length =
        static_cast<uint8_t>(header[8]) | static_cast<uint8_t>(header[9]) << 8;
    EXPECT_EQ(header.size(), 10 + length);
    EXPECT_EQ(header.size() % 64, 0u);
    EXPECT_EQ(header.back(), '\n');
  }
  EXPECT_TRUE(absl::StrContains(NpyHeader(NpyType::kFloat32, {3, 5}),
                                "{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (3, 5), }"));
  EXPECT_TRUE(
      absl::StrContains(NpyHeader(NpyType::kUint64, {7}), "'descr': '<u8'"));
  EXPECT_TRUE(
      absl::StrContains(NpyHeader(NpyType::kUint64, {7}), "'shape': (7,)"));
  EXPECT_TRUE(
      absl::StrContains(NpyHeader(NpyType::kFloat32, {}), "'shape': ()"));
}

TEST_F(NpyTest, FileIsHeaderThenData) {
  const std::string bytes = ValidFile();
  const std::string header = NpyHeader(NpyType::kFloat32, {2, 3});
  ASSERT_EQ(bytes.size(), header.size() + 6 * sizeof(float));
  EXPECT_EQ(bytes.substr(0, header.size()), header);
  float third = 0;
  std::memcpy(&third, bytes.data() + header.size() + 2 * sizeof(float), 4);
  EXPECT_EQ(third, 3.0f);
}

TEST_F(NpyTest, WriteLeavesNoTemporaryFile) {
  ValidFile();
  std::ifstream temp(Path(absl::StrCat("valid.npy.tmp.", getpid())));
  EXPECT_FALSE(temp.good());
}

TEST_F(NpyTest, WriteRejectsShapeNotMatchingValues) {
  absl::Status status = WriteNpy(Path("x.npy"), {2, 3}, std::vector<float>(5));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "(2, 3) holds 6 elements"))
      << status;
  status = WriteNpy(Path("x.npy"), {-1}, std::vector<float>());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  std::ifstream written(Path("x.npy"));
  EXPECT_FALSE(written.good());
}

TEST_F(NpyTest, WriteToMissingFolderNamesThePath) {
  const std::string path = Path("no/such/folder/x.npy");
  absl::Status status = WriteNpy(path, {1}, std::vector<float>{1});
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), path)) << status;
}

TEST_F(NpyTest, ReadMissingFileIsNotFound) {
  absl::StatusOr<NpyArray> array = ReadNpy(Path("missing.npy"));
  EXPECT_EQ(array.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(array.status().message(), "missing.npy"));
}

TEST_F(NpyTest, RejectsTruncatedData) {
  const std::string bytes = ValidFile();
  ExpectRejected(bytes.substr(0, bytes.size() - 3), "truncated");
}

TEST_F(NpyTest, RejectsTrailingBytes) {
  ExpectRejected(ValidFile() + "xyz", "trailing bytes");
}

TEST_F(NpyTest, RejectsTruncatedHeader) {
  ExpectRejected(ValidFile().substr(0, 40), "runs past the end");
  ExpectRejected(ValidFile().substr(0, 5), "magic");
}

TEST_F(NpyTest, RejectsBadMagic) {
  std::string bytes = ValidFile();
  bytes[1] = 'X';
  ExpectRejected(bytes, "magic");
}

TEST_F(NpyTest, RejectsUnknownVersion) {
  std::string bytes = ValidFile();
  bytes[6] = 9;
  ExpectRejected(bytes, "version 9.0");
}

TEST_F(NpyTest, RejectsOtherDtypes) {
  std::string bytes = ValidFile();
  bytes.replace(bytes.find("<f4"), 3, ">f8");
  ExpectRejected(bytes, "dtype '>f8' is not supported");
}

TEST_F(NpyTest, RejectsFortranOrder) {
  std::string bytes = ValidFile();
  bytes.replace(bytes.find("False"), 5, "True ");
  ExpectRejected(bytes, "Fortran-ordered");
}

TEST_F(NpyTest, RejectsBadShape) {
  std::string bytes = ValidFile();
  bytes.replace(bytes.find("(2, 3)"), 6, "(2, x)");
  ExpectRejected(bytes, "bad shape dimension 'x'");
  bytes = ValidFile();
  bytes.replace(bytes.find("'shape'"), 7, "'shope'");
  ExpectRejected(bytes, "no 'shape'");
}

}  // namespace
}  // namespace paramd
