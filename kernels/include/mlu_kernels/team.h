// Parallel regions of generated kernels on the kernel library's cores: what GCC's OpenMP code
// (Inductor's C++ kernels) calls for `omp parallel`, `omp for schedule(dynamic)`, `omp single`
// and barriers, without libgomp's spinning team.
//
// Members join a region when they get there: the calling thread starts it alone and a helper
// joins if it is free, at any point. A barrier waits only for members that have joined, and a
// member joining late passes the barriers already released, finding their loops' iterations all
// claimed. So a helper that starts late (asleep, or on the core of the dispatching thread) never
// holds the caller up; it takes fewer iterations. This requires every loop to be dynamically
// scheduled (a static schedule assigns iterations to members that may never come).
#pragma once

namespace mlu::kernels::team {

// Runs fn(data) as a region of up to `threads` members (0: the kernel threads), returning when
// the members are done. Nested regions run on the calling thread alone.
void parallel(void (*fn)(void*), void* data, unsigned threads);

// The calling member's number in its region (0 outside one).
int thread_num();

// A dynamically scheduled loop over start, start + incr, ... up to end (exclusive): the first
// chunk [*chunk_begin, *chunk_end) claimed by this member, or false when none is left.
bool loop_start(long start, long end, long incr, long* chunk_begin, long* chunk_end);
bool loop_next(long* chunk_begin, long* chunk_end);
// Ends the member's loop, waiting for the other members when `wait`.
void loop_end(bool wait);

void barrier();

// True for the one member that runs an `omp single` block.
bool single_start();

}  // namespace mlu::kernels::team
