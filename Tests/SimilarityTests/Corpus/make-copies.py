#!/usr/bin/env python3
"""Writes the disguised copies of the accuracy corpus from its originals, as a student hiding a copy would:
a-renamed (every name of their own changed), a-reordered (functions moved), a-deadcode (unused statements added
to each function) and b-disguised (all three at once). Each copy still compiles. Run from this folder; the copies
are kept beside the originals so the tests and bench/similarity read the same files."""
import pathlib, re

RENAMES = {
    ("python", "a"): {"clean_word": "normalise", "word": "w", "stripped": "s", "count_words": "frequencies", "counts": "freq",
                      "line": "row", "raw": "piece", "top_words": "best", "limit": "n", "ordered": "ranked", "item": "kv",
                      "format_report": "render", "pairs": "entries", "total": "overall", "lines": "out", "rank": "position",
                      "count": "hits", "share": "percent", "text": "data"},
    ("python", "b"): {"WordStats": "Counts", "counter": "bag", "lines_seen": "rows", "feed": "take", "summary": "describe", "read_all": "consume", "stream": "source", "stats": "st", "show": "display",
                      "width": "w", "how_many": "k", "WORD": "PATTERN"},
    ("c", "a"): {"compare_ints": "cmp", "left": "x", "right": "y", "read_numbers": "load", "capacity": "cap", "count": "len",
                 "value": "v", "numbers": "arr", "mean": "avg", "total": "acc", "median": "mid", "mode": "most", "sorted": "s",
                 "best_run": "longest", "best": "winner", "run": "streak"},
    ("c", "b"): {"data": "vals", "bubble": "sort_all", "swapped": "changed", "average": "mean_of", "most_frequent": "modal",
                 "answer": "res", "top": "hi", "same": "eq", "middle": "med", "MAX": "LIMIT"},
    ("java", "a"): {"stack": "operands", "apply": "combine", "operator": "op", "right": "b", "left": "a",
                    "isOperator": "isSymbol", "token": "t", "evaluate": "compute", "expression": "expr", "calculator": "calc",
                    "input": "sc", "lineNumber": "n", "line": "s"},
    ("java", "b"): {"values": "mem", "top": "sp", "push": "put", "pop": "get", "run": "eval", "parts": "words", "result": "answer",
                    "reader": "in", "sum": "acc", "ok": "good", "bad": "failed"},
    ("javascript", "a"): {"parseLine": "readRow", "scoreText": "rawScore", "score": "pts", "letterFor": "gradeOf",
                          "average": "mean", "groupScores": "collect", "records": "items", "record": "item", "byName": "table",
                          "buildReport": "summarise", "rows": "out", "scores": "list", "total": "acc", "report": "result",
                          "row": "r", "text": "content"},
    ("javascript", "b"): {"GRADES": "BANDS", "students": "people", "skipped": "ignored", "rl": "reader", "raw": "txt",
                          "cells": "fields", "who": "name", "names": "keys", "classTotal": "overall", "avg": "mean",
                          "grade": "band"},
}
EXTENSIONS = {"python": "py", "c": "c", "java": "java", "javascript": "js"}


def rename(text, mapping):
    return re.sub(r"\b[A-Za-z_]\w*\b", lambda m: mapping.get(m.group(0), m.group(0)), text)


def movable(block, language):
    first = block.split("\n")[0]
    return bool(HEADER[language].match(first)) or first.rstrip().endswith("=> {") or first.startswith("class ")


def reorder(text, language):
    """The functions (blocks between blank lines that start with a definition) in reverse order, in the places
    functions had; the first and last blocks and anything else stay. C gains prototypes before them, as a student
    moving C functions around has to add."""
    # Python's top-level definitions are two blank lines apart (PEP 8); a class's methods, one.
    separator = "\n\n\n" if language == "python" else "\n\n"
    blocks = text.rstrip("\n").split(separator)
    slots = [i for i, block in enumerate(blocks) if 0 < i < len(blocks) - 1 and movable(block, language)]
    for i, block in zip(slots, [blocks[i] for i in slots][::-1]):
        blocks[i] = block
    if language == "c":
        prototypes = "\n".join(blocks[i].split("\n")[0].rstrip(" {") + ";" for i in slots)
        blocks.insert(slots[0], prototypes)
    return separator.join(blocks) + "\n"


HEADER = {"python": re.compile(r"^\s*def \w+\(.*\):$"),
          "c": re.compile(r"^\w[\w\s\*]*\w+\s*\([^;]*\)\s*\{?$"),
          "java": re.compile(r"^\s+(public |private |static |final )+[\w<>\[\]]+ \w+\(.*\)( throws \w+)? \{$"),
          "javascript": re.compile(r"^\s*(function \w+\(.*\)|\w+\(.*\)|constructor\(.*\)) \{$|.*=> \{$")}


def dead(language, n, indent):
    return {"python": [f"{indent}unused_{n} = len([]) * {n}", f"{indent}if unused_{n} > {n}:", f"{indent}    print('debug', unused_{n})"],
            "c": [f"{indent}int unused_{n} = {n} * 2;", f"{indent}if (unused_{n} < 0) {{", f"{indent}    puts(\"debug\");", f"{indent}}}"],
            "java": [f"{indent}int unused{n} = {n} * 2;", f"{indent}if (unused{n} < 0) {{", f"{indent}    System.out.println(\"debug\");", f"{indent}}}"],
            "javascript": [f"{indent}const unused{n} = [{n}].length * 2;", f"{indent}if (unused{n} < 0) {{", f"{indent}  console.log('debug');", f"{indent}}}"]}[language]


def pad(text, language):
    lines, out, n = text.split("\n"), [], 0
    for index, line in enumerate(lines):
        out.append(line)
        # A C function's brace may be on its own line: put the statements after it.
        if HEADER[language].match(line) or (language == "c" and line == "{" and index and HEADER["c"].match(lines[index - 1])):
            if language == "c" and not line.endswith("{"):
                continue
            following = lines[index + 1] if index + 1 < len(lines) else ""
            indent = following[: len(following) - len(following.lstrip())] or "    "
            n += 1
            out.extend(dead(language, n, indent))
    return "\n".join(out)


for language, extension in EXTENSIONS.items():
    folder = pathlib.Path(language)
    a = (folder / f"a-original.{extension}").read_text()
    b = (folder / f"b-original.{extension}").read_text()
    (folder / f"a-renamed.{extension}").write_text(rename(a, RENAMES[(language, "a")]))
    (folder / f"a-reordered.{extension}").write_text(reorder(a, language))
    (folder / f"a-deadcode.{extension}").write_text(pad(a, language))
    (folder / f"b-disguised.{extension}").write_text(pad(reorder(rename(b, RENAMES[(language, "b")]), language), language))
