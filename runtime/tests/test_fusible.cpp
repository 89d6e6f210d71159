// Fusible work: a fusible launch still waiting on its queue (or recorded in a capture) may take in
// the next fusible launch; work that has started, or other work in between, never does.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "test_support.h"

namespace mlu {
namespace {

using test_support::drv;
using test_support::Gate;
using test_support::ScopedGraph;
using test_support::ScopedQueue;

// Appends its labels to a log when run; absorbs the next one when allowed to.
class Labels final : public hal::FusibleWork {
 public:
  Labels(std::vector<std::string>& log, std::string label, bool accepts)
      : log_(log), labels_{std::move(label)}, accepts_(accepts) {}

  bool absorb(hal::FusibleWork& next) noexcept override {
    auto* other = dynamic_cast<Labels*>(&next);
    if (!accepts_ || other == nullptr) return false;
    labels_.insert(labels_.end(), other->labels_.begin(), other->labels_.end());
    return true;
  }
  void run() override {
    std::string joined;
    for (const std::string& l : labels_) joined += l;
    log_.push_back(joined);
  }

 private:
  std::vector<std::string>& log_;
  std::vector<std::string> labels_;
  bool accepts_;
};

std::shared_ptr<Labels> labels(std::vector<std::string>& log, std::string label,
                               bool accepts = true) {
  return std::make_shared<Labels>(log, std::move(label), accepts);
}

TEST(Fusible, AWaitingLaunchAbsorbsTheNextOnes) {
  ScopedQueue q(0);
  std::vector<std::string> log;  // written by the executor, read after synchronize
  Gate gate;
  drv().launch(q.get(), "hold", gate.hold());
  drv().launch_fusible(q.get(), "a", labels(log, "a"));
  drv().launch_fusible(q.get(), "b", labels(log, "b"));
  drv().launch_fusible(q.get(), "c", labels(log, "c"));
  gate.open();
  drv().synchronize(q.get());
  EXPECT_EQ(log, (std::vector<std::string>{"abc"}));
}

TEST(Fusible, RefusedOrSeparatedLaunchesRunOnTheirOwn) {
  ScopedQueue q(0);
  std::vector<std::string> log;
  Gate gate;
  drv().launch(q.get(), "hold", gate.hold());
  drv().launch_fusible(q.get(), "a", labels(log, "a", false));
  drv().launch_fusible(q.get(), "b", labels(log, "b"));
  drv().launch(q.get(), "plain", [&] { log.push_back("plain"); });
  drv().launch_fusible(q.get(), "c", labels(log, "c"));
  gate.open();
  drv().synchronize(q.get());
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b", "plain", "c"}));
}

TEST(Fusible, StartedWorkAbsorbsNothing) {
  ScopedQueue q(0);
  std::vector<std::string> log;
  drv().launch_fusible(q.get(), "a", labels(log, "a"));
  drv().synchronize(q.get());  // a has run
  drv().launch_fusible(q.get(), "b", labels(log, "b"));
  drv().synchronize(q.get());
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
}

TEST(Fusible, ACaptureRecordsAbsorbedLaunchesAsOneWork) {
  ScopedQueue q(0);
  std::vector<std::string> log;
  drv().begin_capture(q.get());
  drv().launch_fusible(q.get(), "first", labels(log, "a"));
  drv().launch_fusible(q.get(), "second", labels(log, "b"));
  ScopedGraph graph(drv().end_capture(q.get()));
  EXPECT_EQ(drv().graph_work_names(graph.get()), (std::vector<std::string>{"first"}));
  drv().launch_graph(graph.get(), q.get(), nullptr);
  drv().launch_graph(graph.get(), q.get(), nullptr);
  drv().synchronize(q.get());
  EXPECT_EQ(log, (std::vector<std::string>{"ab", "ab"}));
}

TEST(Fusible, NullWorkIsRefused) {
  ScopedQueue q(0);
  try {
    drv().launch_fusible(q.get(), "none", nullptr);
    ADD_FAILURE() << "no error raised";
  } catch (const hal::Error& e) {
    EXPECT_EQ(e.kind(), hal::ErrorKind::InvalidValue);
    EXPECT_NE(std::string(e.what()).find("null work"), std::string::npos) << e.what();
  }
  drv().synchronize(q.get());  // the queue is usable
}

}  // namespace
}  // namespace mlu
