// A collected trace as Python sees it: one bytes object per column, which
// boc.Trace reads with numpy without copying event by event.
#pragma once

#include <nanobind/nanobind.h>

#include "boc/trace.h"

namespace boc::python {

// {"ns": int64, "kind": uint8, "worker": int32, "behaviour": uint64,
//  "other": int32, "count": uint64, "cowns_begin": uint32,
//  "cowns_count": uint32 (each bytes, native byte order), "cowns": uint64
//  bytes, "kinds": [names by kind value], "sources": [labels], "workers",
//  "capacity", "recorded": [per ring], "overwritten": [per ring]}.
nanobind::dict trace_columns(const TraceLog& log);

}  // namespace boc::python
