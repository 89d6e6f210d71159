// Generated kernels' parallel regions run on the kernel library's team (mlu_kernels/team.h).
#include "mlu/ops/generated.h"

#include "mlu_kernels/team.h"

namespace mlu::hal {

const GeneratedCodeTeam& generated_code_team() {
  namespace team = kernels::team;
  static const GeneratedCodeTeam calls{team::parallel,    team::thread_num, team::loop_start,
                                       team::loop_next,   team::loop_end,   team::barrier,
                                       team::single_start};
  return calls;
}

}  // namespace mlu::hal
