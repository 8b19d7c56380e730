#include "tools/partitioner.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/data_manifest.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

class PartitionerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/partitioner-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // The shard files' texts, in order.
  std::vector<std::string> Shards(const v1::DataManifest& manifest,
                                  const std::string& out) {
    std::vector<std::string> texts;
    for (const auto& shard : manifest.shards()) {
      texts.push_back(Read(out + "/" + shard.file()));
    }
    return texts;
  }

  PartitionOptions Options(std::vector<std::string> inputs, int shards,
                           const std::string& out = "out") {
    PartitionOptions options;
    options.inputs = std::move(inputs);
    options.out_dir = dir_ + "/" + out;
    options.num_shards = shards;
    return options;
  }

  std::string dir_;
};

// "1 3:1\n" ... "1 <n+2>:1\n": n distinct LIBSVM lines.
std::string Lines(int n, int first = 0) {
  std::string text;
  for (int i = first; i < first + n; ++i) {
    absl::StrAppend(&text, i % 2, " ", i + 3, ":1\n");
  }
  return text;
}

std::vector<std::string> SortedLines(const std::vector<std::string>& texts) {
  std::vector<std::string> lines;
  for (const std::string& text : texts) {
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!line.empty()) lines.emplace_back(line);
    }
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST_F(PartitionerTest, HashPutsEveryRecordOnceAndTheSameRecordInTheSameShard) {
  const std::string a = Write("a.svm", Lines(200));
  auto manifest = Partition(Options({a}, 4, "a"));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const std::vector<std::string> shards = Shards(*manifest, dir_ + "/a");
  EXPECT_EQ(SortedLines(shards), SortedLines({Lines(200)}));
  for (const std::string& shard : shards) {
    EXPECT_GT(SortedLines({shard}).size(), 20u) << "uneven: " << shard;
  }
  EXPECT_EQ(manifest->shards(0).file(), "part-00000.svm");
  // Records 100..299: those shared with a.svm land in the same shards.
  const std::string b = Write("b.svm", Lines(200, 100));
  auto other = Partition(Options({b}, 4, "b"));
  ASSERT_TRUE(other.ok()) << other.status();
  const std::vector<std::string> shards_b = Shards(*other, dir_ + "/b");
  for (int s = 0; s < 4; ++s) {
    for (const std::string& line : SortedLines({shards[s]})) {
      bool in_b = false;
      for (int t = 0; t < 4; ++t) {
        if (absl::StrContains(shards_b[t], line + "\n")) {
          EXPECT_EQ(t, s) << line;
          in_b = true;
        }
      }
      const int feature = std::stoi(line.substr(2));
      EXPECT_EQ(in_b, feature >= 103) << line;
    }
  }
}

TEST_F(PartitionerTest, KeyColumnKeepsAKeysRowsTogether) {
  std::string csv;
  for (int i = 0; i < 100; ++i) {
    absl::StrAppend(&csv, i, ",user", i % 7, ",", i * 3, "\n");
  }
  PartitionOptions options = Options({Write("rows.csv", csv)}, 3);
  options.by = "key";
  options.key_column = 1;
  auto manifest = Partition(options);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->by(), "key");
  std::map<std::string, int> shard_of_user;
  const std::vector<std::string> shards = Shards(*manifest, options.out_dir);
  int records = 0;
  for (int s = 0; s < 3; ++s) {
    for (const std::string& line : SortedLines({shards[s]})) {
      const std::string user =
          std::vector<std::string>(absl::StrSplit(line, ','))[1];
      auto [it, added] = shard_of_user.emplace(user, s);
      EXPECT_EQ(it->second, s) << user;
      ++records;
    }
  }
  EXPECT_EQ(records, 100);
  EXPECT_EQ(shard_of_user.size(), 7u);
}

TEST_F(PartitionerTest, AMissingKeyColumnNamesTheFileAndLine) {
  PartitionOptions options = Options({Write("rows.tsv", "a\tb\nc\n")}, 2);
  options.by = "key";
  options.key_column = 1;
  options.delimiter = '\t';
  auto manifest = Partition(options);
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(manifest.status().message(),
                        "rows.tsv:2: 1 column(s); --key_column=1 needs 2"))
      << manifest.status();
}

TEST_F(PartitionerTest, RoundRobinAndRangeSpreadEvenly) {
  const std::string text = Lines(10);
  PartitionOptions options = Options({Write("a.svm", text)}, 3, "rr");
  options.by = "round_robin";
  auto rr = Partition(options);
  ASSERT_TRUE(rr.ok()) << rr.status();
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  EXPECT_EQ(Shards(*rr, options.out_dir)[1],
            absl::StrCat(lines[1], "\n", lines[4], "\n", lines[7], "\n"));
  options = Options({Write("a.svm", text)}, 3, "range");
  options.by = "range";
  auto range = Partition(options);
  ASSERT_TRUE(range.ok()) << range.status();
  const std::vector<std::string> shards = Shards(*range, options.out_dir);
  EXPECT_EQ(shards[0] + shards[1] + shards[2], text);  // contiguous, in order
  EXPECT_EQ(range->shards(0).records(), 4u);
  EXPECT_EQ(range->shards(2).records(), 3u);
}

TEST_F(PartitionerTest, ParagraphsAndDocumentsStayWhole) {
  const std::string text = "a b\nc\n\n\nd e\n \nf\n";
  PartitionOptions options = Options({Write("t.txt", text)}, 1, "p");
  options.record = "paragraph";
  auto paragraphs = Partition(options);
  ASSERT_TRUE(paragraphs.ok()) << paragraphs.status();
  EXPECT_EQ(paragraphs->shards(0).records(), 3u);
  EXPECT_EQ(Shards(*paragraphs, options.out_dir)[0], "a b\nc\n\nd e\n\nf\n\n");
  // Documents end at a form-feed line or with their file.
  options = Options(
      {Write("d1.txt", "one\n\ntwo\n\f\nthree\n"), Write("d2.txt", "four")}, 1,
      "d");
  options.record = "document";
  auto documents = Partition(options);
  ASSERT_TRUE(documents.ok()) << documents.status();
  EXPECT_EQ(documents->shards(0).records(), 3u);
  EXPECT_EQ(Shards(*documents, options.out_dir)[0],
            "one\n\ntwo\n\f\nthree\n\f\nfour\n\f\n");
}

TEST_F(PartitionerTest, AHeaderGoesToEveryShardAndIsNoRecord) {
  PartitionOptions options = Options(
      {Write("a.csv", "id,x\n1,2\n3,4\n"), Write("b.csv", "id,x\n5,6\n")}, 2);
  options.by = "round_robin";
  options.header = true;
  auto manifest = Partition(options);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const std::vector<std::string> shards = Shards(*manifest, options.out_dir);
  EXPECT_EQ(shards[0], "id,x\n1,2\n5,6\n");
  EXPECT_EQ(shards[1], "id,x\n3,4\n");
  EXPECT_EQ(manifest->shards(0).records(), 2u);
}

TEST_F(PartitionerTest, AShuffledShardKeepsItsHeaderAndEveryRecord) {
  PartitionOptions options = Options({Write("a.csv", "id,x\n" + Lines(30))}, 2);
  options.header = true;
  options.shuffle_seed = 3;
  auto manifest = Partition(options);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const std::vector<std::string> shards = Shards(*manifest, options.out_dir);
  uint64_t records = 0;
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(shards[s].rfind("id,x\n", 0), 0u) << shards[s];
    records += manifest->shards(s).records();
    EXPECT_EQ(manifest->shards(s).records(),
              SortedLines({shards[s]}).size() - 1);  // the header
  }
  EXPECT_EQ(records, 30u);
}

TEST_F(PartitionerTest, CrlfFilesAndEmptyLastColumns) {
  PartitionOptions options =
      Options({Write("d.txt", "one\r\n\f\r\ntwo\r\n")}, 1, "crlf");
  options.record = "document";
  auto documents = Partition(options);
  ASSERT_TRUE(documents.ok()) << documents.status();
  EXPECT_EQ(documents->shards(0).records(), 2u);
  options = Options({Write("e.tsv", "a\t\nb\tx\n")}, 2, "empty");
  options.by = "key";
  options.key_column = 1;
  options.delimiter = '\t';
  auto keyed = Partition(options);
  EXPECT_TRUE(keyed.ok()) << keyed.status();  // "" is a key
}

TEST_F(PartitionerTest, ManyShardsRaiseTheOpenFileLimit) {
  auto manifest = Partition(Options({Write("a.svm", Lines(100))}, 1500));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->shards_size(), 1500);
}

TEST_F(PartitionerTest, AFailedRunLeavesNoShardsAndNoManifest) {
  const std::string input = Write("rows.csv", "a,1\nb,2\n");
  ASSERT_TRUE(Partition(Options({input}, 2)).ok());
  PartitionOptions options = Options({Write("bad.csv", "a,1\nb\n")}, 2);
  options.by = "key";
  options.key_column = 1;
  EXPECT_FALSE(Partition(options).ok());
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/out"));
}

TEST_F(PartitionerTest, ShuffleIsSeededAndTheManifestMatchesTheFiles) {
  const std::string input = Write("a.svm", Lines(300));
  PartitionOptions options = Options({input}, 2, "s1");
  options.shuffle_seed = 7;
  auto first = Partition(options);
  ASSERT_TRUE(first.ok()) << first.status();
  options.out_dir = dir_ + "/s2";
  auto again = Partition(options);
  ASSERT_TRUE(again.ok());
  options.out_dir = dir_ + "/plain";
  options.shuffle_seed = 0;
  auto plain = Partition(options);
  ASSERT_TRUE(plain.ok());
  const auto shuffled = Shards(*first, dir_ + "/s1");
  EXPECT_EQ(shuffled, Shards(*again, dir_ + "/s2"));
  const auto unshuffled = Shards(*plain, dir_ + "/plain");
  EXPECT_NE(shuffled[0], unshuffled[0]);
  EXPECT_EQ(SortedLines({shuffled[0]}), SortedLines({unshuffled[0]}));
  for (const auto& shard : first->shards()) {
    const std::string path = dir_ + "/s1/" + shard.file();
    auto sum = ChecksumFile(path);
    ASSERT_TRUE(sum.ok());
    EXPECT_EQ(sum->bytes, shard.bytes());
    EXPECT_EQ(sum->crc32, shard.crc32());
    EXPECT_TRUE(CheckAgainstManifest(path).ok());
  }
  auto read = ReadManifest(dir_ + "/s1");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->shuffle_seed(), 7u);
  EXPECT_EQ((*read)->shards_size(), 2);
}

TEST_F(PartitionerTest, AChangedShardFailsItsCheck) {
  auto manifest = Partition(Options({Write("a.svm", Lines(50))}, 2));
  ASSERT_TRUE(manifest.ok());
  const std::string path = dir_ + "/out/part-00001.svm";
  std::string text = Read(path);
  text[0] = text[0] == '0' ? '1' : '0';  // same size, other bytes
  std::ofstream(path, std::ios::binary) << text;
  const absl::Status changed = CheckAgainstManifest(path);
  EXPECT_EQ(changed.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(
      changed.message(), path + ": does not match paramd-manifest.json ("))
      << changed;
  EXPECT_TRUE(absl::StrContains(changed.message(), "changed after it was"));
  // Files the manifest does not list, and folders without one, pass.
  EXPECT_TRUE(CheckAgainstManifest(Write("out/extra.svm", "1 2:1\n")).ok());
  EXPECT_TRUE(CheckAgainstManifest(dir_ + "/a.svm").ok());
  Write("out/paramd-manifest.json", "{\"shards\": 3}");
  EXPECT_EQ(CheckAgainstManifest(path).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PartitionerTest, FewerShardsRemoveTheEarlierOnes) {
  const std::string input = Write("a.svm", Lines(40));
  ASSERT_TRUE(Partition(Options({input}, 5)).ok());
  ASSERT_TRUE(Partition(Options({input}, 2)).ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/out/part-00001.svm"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out/part-00002.svm"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out/part-00004.svm"));
}

TEST_F(PartitionerTest, AFolderStandsForItsFiles) {
  Write("in/b.svm", Lines(3, 10));
  Write("in/a.svm", Lines(3));
  PartitionOptions options = Options({dir_ + "/in"}, 1);
  options.by = "range";
  auto manifest = Partition(options);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(Shards(*manifest, options.out_dir)[0], Lines(3) + Lines(3, 10));
}

TEST_F(PartitionerTest, BadOptionsAndInputsAreRefusedByName) {
  const std::string input = Write("a.svm", Lines(5));
  struct Case {
    std::function<void(PartitionOptions*)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](PartitionOptions* o) { o->num_shards = 0; },
       "--shards must be 1 to 100000, got 0"},
      {[](PartitionOptions* o) { o->record = "word"; },
       "--record must be line, paragraph or document, got 'word'"},
      {[](PartitionOptions* o) { o->by = "size"; },
       "--by must be hash, key, round_robin or range, got 'size'"},
      {[](PartitionOptions* o) { o->by = "key"; },
       "--by=key needs --key_column=K (0-based) and --record=line"},
      {[](PartitionOptions* o) { o->out_dir.clear(); },
       "partition needs --out=DIR"},
      {[&](PartitionOptions* o) { o->inputs = {dir_ + "/missing.svm"}; },
       "missing.svm: no such file or folder"},
      {[&](PartitionOptions* o) { o->inputs = {Write("empty.svm", "\n\n")}; },
       "partition: no line records in the input"},
      {[&](PartitionOptions* o) { o->out_dir = dir_; },
       "a.svm is in --out=" + dir_ +
           ": the shards would overwrite their input"},
  };
  for (const Case& c : cases) {
    PartitionOptions options = Options({input}, 2);
    c.change(&options);
    auto manifest = Partition(options);
    EXPECT_FALSE(manifest.ok()) << c.message;
    EXPECT_TRUE(absl::StrContains(manifest.status().message(), c.message))
        << manifest.status();
  }
}

}  // namespace
}  // namespace paramd
