// Bodies that throw: the exception is recorded, the cowns are released, and
// the runtime carries on.
#include <gtest/gtest.h>

#include <atomic>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "boc/runtime.h"
#include "test_support.h"

namespace boc {
namespace {

using test::when;

std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (int code) {
    return "int " + std::to_string(code);
  } catch (...) {
    return "?";
  }
}

class Errors : public test::PerScheduler {};
BOC_FOR_EVERY_SCHEDULER(Errors);

TEST_P(Errors, ThrowingBodyIsRecordedAndLaterBehavioursRun) {
  CownRef c = CownRef::make();
  std::atomic<int> after{0};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  EXPECT_TRUE(rt.take_errors().empty());
  when(rt, {c.get()}, [] { throw std::runtime_error("body failed"); });
  // Queued behind the failing one on the same cown: runs only if the cown
  // was released despite the exception.
  for (int i = 0; i < 10; ++i) when(rt, {c.get()}, [&] { after++; });
  test::quiesce_or_abort(rt);
  EXPECT_EQ(after.load(), 10);
  EXPECT_TRUE(rt.running());

  auto errors = rt.take_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(message_of(errors[0]), "body failed");
  EXPECT_TRUE(rt.take_errors().empty()) << "take_errors hands each error over once";

  // Still working after the error was taken.
  when(rt, {c.get()}, [&] { after++; });
  test::stop_or_abort(rt);
  EXPECT_EQ(after.load(), 11);
  EXPECT_EQ(test::total_behaviours_run(rt), 12u);
  EXPECT_TRUE(rt.take_errors().empty());
}

TEST_P(Errors, ManyFailuresFromManyWorkersAreAllKept) {
  const int n = static_cast<int>(test::scaled(400, 4));
  test::CownPool pool(4);
  std::atomic<int> ok{0};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  for (int i = 0; i < n; ++i) {
    when(rt, {pool[i % 4]}, [i, &ok] {
      if (i % 3 == 0) throw std::runtime_error("e" + std::to_string(i));
      if (i % 3 == 1) throw i;  // not a std::exception
      ok++;
    });
  }
  test::stop_or_abort(rt);
  const auto errors = rt.take_errors();
  const int failing = n - n / 3;  // those with i % 3 != 2, for i in [0, n)
  EXPECT_EQ(static_cast<int>(errors.size()), failing);
  std::vector<bool> seen(n, false);
  for (const auto& e : errors) {
    const std::string m = message_of(e);
    const int i = m.rfind("int ", 0) == 0 ? std::stoi(m.substr(4)) : std::stoi(m.substr(1));
    ASSERT_GE(i, 0);
    ASSERT_LT(i, n);
    EXPECT_FALSE(seen[i]) << "error of behaviour " << i << " recorded twice";
    seen[i] = true;
    EXPECT_NE(i % 3, 2) << m;
  }
  EXPECT_EQ(ok.load() + static_cast<int>(errors.size()), n);
}

}  // namespace
}  // namespace boc
