#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "boc/runtime.h"

namespace {

using boc::Cown;
using boc::CownRef;
using boc::Runtime;

TEST(Runtime, RunsOneBehaviour) {
  for (const auto* info : boc::Registry::instance().all()) {
    Runtime rt(info->name, 2);
    rt.start();
    CownRef c = CownRef::make();
    std::atomic<int> ran{0};
    Cown* cs[] = {c.get()};
    rt.schedule(boc::make_behaviour(cs, [&] { ran++; }));
    rt.stop();
    EXPECT_EQ(ran.load(), 1) << info->name;
  }
}

}  // namespace
