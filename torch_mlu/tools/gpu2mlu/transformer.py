"""Converting one Python source from CUDA to mlu with libcst, keeping its formatting."""

import dataclasses

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider

from . import rules

ADDED_IMPORT = "import torch_mlu"

@dataclasses.dataclass(frozen=True)
class Change:
    line: int  # in the original source
    before: str  # the original line
    after: str  # the converted line


def _dotted(node):
    """"torch.cuda.amp" for the Name/Attribute chain of a module name."""
    if isinstance(node, cst.Name):
        return node.value
    return f"{_dotted(node.value)}.{node.attr.value}"


def _imported_modules(statement):
    """Dotted names of the modules a statement imports (empty for other statements)."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return []
    modules = []
    for small in statement.body:
        if isinstance(small, cst.Import):
            modules += [_dotted(alias.name) for alias in small.names]
        elif isinstance(small, cst.ImportFrom) and small.module is not None:
            modules.append(_dotted(small.module))
    return modules


def _is_package(module, package):
    return module == package or module.startswith(package + ".")


def _mlu_argument():
    return cst.Arg(cst.SimpleString('"mlu"'))


def _has_device_argument(call):
    return any((arg.keyword is None and not arg.star) or
               (arg.keyword is not None and arg.keyword.value == "device") for arg in call.args)


def _without_cuda_level(func):
    """torch.cuda.amp.X -> torch.amp.X; amp.X and X stay (their imports are rewritten)."""
    amp = func.value if isinstance(func, cst.Attribute) else None
    if isinstance(amp, cst.Attribute) and isinstance(amp.value, cst.Attribute) \
            and amp.value.attr.value == "cuda":
        return func.with_changes(value=amp.with_changes(value=amp.value.value))
    return func


class CudaToMlu(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider, QualifiedNameProvider)

    def __init__(self):
        super().__init__()
        self.changed_lines = set()
        self.imports_torch = False
        self.imports_torch_mlu = False
        self.added_import = False

    def _changed(self, original, updated):
        self.changed_lines.add(self.get_metadata(PositionProvider, original).start.line)
        return updated

    def _names(self, node):
        return {name.name for name in self.get_metadata(QualifiedNameProvider, node, set())}

    def leave_SimpleString(self, original, updated):
        if "b" in updated.prefix.lower():
            return updated
        converted = rules.convert_literal(updated.raw_value)
        if converted is None:
            return updated
        value = f"{updated.prefix}{updated.quote}{converted}{updated.quote}"
        return self._changed(original, updated.with_changes(value=value))

    def leave_FormattedString(self, original, updated):
        first = updated.parts[0] if updated.parts else None
        converted = rules.convert_literal(first.value) \
            if isinstance(first, cst.FormattedStringText) else None
        if converted is None:
            return updated
        parts = (first.with_changes(value=converted), *updated.parts[1:])
        return self._changed(original, updated.with_changes(parts=parts))

    def leave_Attribute(self, original, updated):
        if updated.attr.value == "is_cuda":
            return self._changed(original, updated.with_changes(attr=cst.Name("is_mlu")))
        for name in self._names(original):
            module, _, api = name.rpartition(".")
            if module == "torch.cuda" and api in rules.CUDA_TO_MLU \
                    and isinstance(updated.value, cst.Attribute) \
                    and updated.value.attr.value == "cuda":
                value = updated.value.with_changes(attr=cst.Name("mlu"))
                attr = cst.Name(rules.CUDA_TO_MLU[api])
                return self._changed(original, updated.with_changes(value=value, attr=attr))
        return updated

    def leave_Call(self, original, updated):
        names = self._names(original.func)
        if "torch.cuda.amp.autocast" in names:
            # torch.amp.autocast's parameters start with device_type: name the others
            args = [arg.with_changes(keyword=cst.Name(param),
                                     equal=cst.AssignEqual(cst.SimpleWhitespace(""),
                                                           cst.SimpleWhitespace("")))
                    if arg.keyword is None and not arg.star else arg
                    for arg, param in zip(updated.args, rules.CUDA_AUTOCAST_PARAMETERS)]
            args += updated.args[len(args):]
            return self._changed(original, updated.with_changes(
                func=_without_cuda_level(updated.func), args=(_mlu_argument(), *args)))
        if "torch.cuda.amp.GradScaler" in names:
            return self._changed(original, updated.with_changes(
                func=_without_cuda_level(updated.func), args=(_mlu_argument(), *updated.args)))
        if names & set(rules.GRAD_SCALERS) and not _has_device_argument(updated):
            return self._changed(original, updated.with_changes(
                args=(_mlu_argument(), *updated.args)))
        if isinstance(updated.func, cst.Attribute) and updated.func.attr.value == "cuda":
            func = updated.func.with_changes(attr=cst.Name("mlu"))  # Tensor/Module.cuda()
            return self._changed(original, updated.with_changes(func=func))
        return updated

    def visit_Import(self, node):
        for alias in node.names:
            self._note_import(_dotted(alias.name))

    def visit_ImportFrom(self, node):
        if node.module is not None:
            self._note_import(_dotted(node.module))

    def _note_import(self, module):
        self.imports_torch |= _is_package(module, "torch")
        self.imports_torch_mlu |= _is_package(module, "torch_mlu")

    def leave_ImportFrom(self, original, updated):
        if updated.module is None or isinstance(updated.names, cst.ImportStar):
            return updated
        module = _dotted(updated.module)
        names = [alias.name.value for alias in updated.names]
        if module == "torch.cuda.amp" and set(names) <= set(rules.AMP_CLASSES):
            new_module, aliases = "torch.amp", updated.names
        elif module == "torch.cuda" and names == ["amp"]:
            new_module, aliases = "torch", updated.names
        elif module == "torch.cuda" and all(name in rules.CUDA_TO_MLU for name in names):
            new_module = "torch.mlu"
            aliases = [alias.with_changes(
                name=cst.Name(rules.CUDA_TO_MLU[alias.name.value]),
                asname=alias.asname or cst.AsName(cst.Name(alias.name.value)))
                if rules.CUDA_TO_MLU[alias.name.value] != alias.name.value else alias
                for alias in updated.names]
        else:
            return updated
        return self._changed(original, updated.with_changes(
            module=cst.parse_expression(new_module), names=aliases))

    def leave_Module(self, original, updated):
        if not self.imports_torch or self.imports_torch_mlu:
            return updated
        index = self._torch_mlu_import_index(original)
        self.added_import = True
        body = (*updated.body[:index], cst.parse_statement(f"{ADDED_IMPORT}\n"),
                *updated.body[index:])
        return updated.with_changes(body=body)

    def _torch_mlu_import_index(self, module):
        """Just after the first top-level import of torch (before it if it imports from
        torch.cuda, which becomes torch.mlu); else after the docstring and the __future__
        imports (torch is only imported inside functions)."""
        for index, statement in enumerate(module.body):
            modules = _imported_modules(statement)
            if any(_is_package(name, "torch") for name in modules):
                return index if "torch.cuda" in modules else index + 1
        index = 0
        for statement in module.body:
            is_docstring = index == 0 and isinstance(statement, cst.SimpleStatementLine) \
                and isinstance(statement.body[0], cst.Expr) \
                and isinstance(statement.body[0].value, cst.SimpleString)
            if not (is_docstring or _imported_modules(statement) == ["__future__"]):
                break
            index += 1
        return index


def convert_source(code):
    """(converted code, [Change]) for one Python source; raises libcst.ParserSyntaxError.

    Only the added import changes the number of lines: a Change's line is the original line
    number, and the added import's is the number of the line it was inserted before."""
    transformer = CudaToMlu()
    converted = MetadataWrapper(cst.parse_module(code)).visit(transformer).code
    before, after = code.splitlines(), converted.splitlines()
    # lines before the added import (the original had no such line: it imported no torch_mlu)
    kept = after.index(ADDED_IMPORT) if transformer.added_import else len(after)
    changes = [Change(line, before[line - 1].strip(), after[line - 1 + (line > kept)].strip())
               for line in transformer.changed_lines]
    if transformer.added_import:
        changes.append(Change(kept + 1, "", ADDED_IMPORT))
    # an added line comes before the changes of the line it was inserted before
    return converted, sorted(changes, key=lambda change: (change.line, change.before != ""))
