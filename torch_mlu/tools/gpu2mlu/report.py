"""The Markdown reports: every change made, and every hazard found."""


def _code(text):
    """A table cell showing code: empty stays empty; pipes escaped."""
    if not text:
        return ""
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _cell(text):
    return text.replace("|", "\\|")


def hazard_table(files):
    """Markdown table of the hazards of [FileResult]; "" when there are none."""
    rows = [f"| {result.path} | {hazard.line} | {hazard.kind} | {_code(hazard.code)} | "
            f"{_cell(hazard.why)} |"
            for result in files for hazard in result.hazards]
    if not rows:
        return ""
    return "\n".join(["| file | line | hazard | code | why |", "| --- | --- | --- | --- | --- |",
                      *rows])


def hazard_report(source, files):
    hazards = sum(len(result.hazards) for result in files)
    lines = [f"# gpu2mlu hazard scan of `{source}`", "",
             f"{len(files)} files scanned, {hazards} hazards found."]
    if hazards:
        lines += ["", "What gpu2mlu cannot convert safely, or converts but cannot vouch for:",
                  "", hazard_table(files)]
    return "\n".join(lines) + "\n"


def conversion_report(source, destination, files):
    changes = [(result.path, change) for result in files for change in result.changes]
    hazards = sum(len(result.hazards) for result in files)
    lines = [f"# gpu2mlu conversion of `{source}` into `{destination}`", "",
             f"{len(files)} files, {len(changes)} changed lines, {hazards} hazards.", "",
             "## Changes", "",
             "Line numbers are the original's; an added line has no 'before' and the number "
             "of the line it was inserted before.", "",
             "| file | line | before | after |", "| --- | --- | --- | --- |"]
    lines += [f"| {path} | {change.line} | {_code(change.before)} | {_code(change.after)} |"
              for path, change in changes]
    if hazards:
        lines += ["", "## Hazards", "",
                  "What gpu2mlu could not convert safely, or converted but cannot vouch for "
                  "(`--check` lists only these):", "", hazard_table(files)]
    return "\n".join(lines) + "\n"
