"""python -m torch_mlu.tools.gpu2mlu SRC [-o DST] [--report PATH] [--check]"""

import argparse
import dataclasses
import os
import pathlib
import shutil

import libcst as cst

from .hazards import Hazard, scan_source
from .report import conversion_report, hazard_report
from .rules import WHY
from .transformer import convert_source

CUDA_SOURCE_SUFFIXES = (".cu", ".cuh")
SKIPPED_DIRECTORIES = {"__pycache__", ".git"}


@dataclasses.dataclass
class FileResult:
    path: str  # relative to SRC (the file's name when SRC is a file)
    changes: list
    hazards: list


def _files(source):
    """(path, path relative to source) of every file of a tree, or of the file itself."""
    if source.is_file():
        return [(source, source.name)]
    files = []
    for directory, subdirectories, names in os.walk(source):
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
        files += [(pathlib.Path(directory, name),
                   pathlib.Path(directory, name).relative_to(source).as_posix())
                  for name in sorted(names)]
    return files


def _process(path, label, convert):
    """(FileResult, converted code or None to copy the file as it is)."""
    if path.suffix in CUDA_SOURCE_SUFFIXES:
        hazard = Hazard(1, "CUDA source", path.name, WHY["CUDA source"])
        return FileResult(label, [], [hazard]), None
    if path.suffix != ".py":
        return FileResult(label, [], []), None
    try:
        code = path.read_text(encoding="utf-8")
        hazards = scan_source(code)
        converted, changes = convert_source(code) if convert else (None, [])
    except (cst.ParserSyntaxError, UnicodeDecodeError) as error:
        line = getattr(error, "raw_line", 1)
        reason = str(error).strip().splitlines()[0]
        return FileResult(label, [], [Hazard(line, "unparsable", reason, WHY["unparsable"])]), None
    return FileResult(label, changes, hazards), converted


def _default_destination(source):
    if source.is_dir():
        return source.with_name(source.name + "_mlu")
    return source.with_name(source.stem + "_mlu" + source.suffix)


def _default_report(source, destination):
    if source.is_dir():
        return destination / "gpu2mlu_report.md"
    return destination.with_name(destination.stem + "_report.md")


def _check(source, report_path):
    files = [_process(path, label, convert=False)[0] for path, label in _files(source)]
    text = hazard_report(source, files)
    print(text, end="")
    if report_path:
        pathlib.Path(report_path).write_text(text, encoding="utf-8")
    return 1 if any(result.hazards for result in files) else 0


def _convert(source, destination, report_path):
    files = []
    for path, label in _files(source):
        result, converted = _process(path, label, convert=True)
        files.append(result)
        target = destination / label if source.is_dir() else destination
        target.parent.mkdir(parents=True, exist_ok=True)
        if converted is None:
            shutil.copy2(path, target)
        else:
            target.write_text(converted, encoding="utf-8")
            shutil.copymode(path, target)
    report_path.write_text(conversion_report(source, destination, files), encoding="utf-8")
    changes = sum(len(result.changes) for result in files)
    hazards = sum(len(result.hazards) for result in files)
    print(f"gpu2mlu: {len(files)} files into {destination}: {changes} changed lines, "
          f"{hazards} hazards; report: {report_path}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m torch_mlu.tools.gpu2mlu",
        description="Convert PyTorch code written for CUDA to mlu (a file or a tree), or with "
                    "--check list what cannot be converted safely (exit status 1 if anything).")
    parser.add_argument("source", type=pathlib.Path, help="a Python file or a directory")
    parser.add_argument("-o", "--output", type=pathlib.Path,
                        help="where the converted copy goes (default: SRC_mlu)")
    parser.add_argument("--report", type=pathlib.Path,
                        help="Markdown report path (default: gpu2mlu_report.md in a converted "
                             "tree, DST_report.md next to a converted file; --check: none)")
    parser.add_argument("--check", action="store_true",
                        help="only scan for hazards; exit status 1 when there are any")
    args = parser.parse_args(argv)
    source = args.source
    if not source.exists():
        parser.error(f"{source} does not exist")
    if args.check:
        return _check(source, args.report)
    destination = args.output or _default_destination(source)
    if destination.resolve() == source.resolve() or (
            source.is_dir() and destination.resolve().is_relative_to(source.resolve())):
        parser.error(f"the output {destination} must be outside the source {source}")
    return _convert(source, destination, args.report or _default_report(source, destination))
