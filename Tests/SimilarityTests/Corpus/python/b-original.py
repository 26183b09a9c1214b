from collections import Counter
import re
import sys

WORD = re.compile(r"[a-z']+")


class WordStats:
    def __init__(self):
        self.counter = Counter()
        self.lines_seen = 0

    def feed(self, line):
        self.lines_seen += 1
        self.counter.update(WORD.findall(line.lower()))

    def most_common(self, n):
        return sorted(self.counter.most_common(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def summary(self):
        return "lines=%d words=%d unique=%d" % (self.lines_seen, sum(self.counter.values()), len(self.counter))


def read_all(stream, stats):
    while True:
        line = stream.readline()
        if line == "":
            break
        stats.feed(line)
    return stats


def show(stats, n):
    width = max([len(w) for w, _ in stats.most_common(n)] + [4])
    print("word".ljust(width), "count")
    for w, c in stats.most_common(n):
        print(w.ljust(width), str(c).rjust(5))
    print(stats.summary())


if __name__ == "__main__":
    how_many = 10
    if len(sys.argv) == 2 and sys.argv[1].isdigit():
        how_many = int(sys.argv[1])
    show(read_all(sys.stdin, WordStats()), how_many)
