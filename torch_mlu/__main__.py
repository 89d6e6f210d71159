"""python -m torch_mlu COMMAND: doctor (what this installation is, and whether it works)."""

import sys

from torch_mlu import _doctor

COMMANDS = {"doctor": _doctor.main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m torch_mlu {{{','.join(COMMANDS)}}}", file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
