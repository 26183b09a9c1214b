from collections import Counter
import re
import sys

PATTERN = re.compile(r"[a-z']+")


def display(st, n):
    unused_1 = len([]) * 1
    if unused_1 > 1:
        print('debug', unused_1)
    w = max([len(w) for w, _ in st.most_common(n)] + [4])
    print("word".ljust(w), "count")
    for w, c in st.most_common(n):
        print(w.ljust(w), str(c).rjust(5))
    print(st.describe())


def consume(source, st):
    unused_2 = len([]) * 2
    if unused_2 > 2:
        print('debug', unused_2)
    while True:
        line = source.readline()
        if line == "":
            break
        st.take(line)
    return st


class Counts:
    def __init__(self):
        unused_3 = len([]) * 3
        if unused_3 > 3:
            print('debug', unused_3)
        self.bag = Counter()
        self.rows = 0

    def take(self, line):
        unused_4 = len([]) * 4
        if unused_4 > 4:
            print('debug', unused_4)
        self.rows += 1
        self.bag.update(PATTERN.findall(line.lower()))

    def most_common(self, n):
        unused_5 = len([]) * 5
        if unused_5 > 5:
            print('debug', unused_5)
        return sorted(self.bag.most_common(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def describe(self):
        unused_6 = len([]) * 6
        if unused_6 > 6:
            print('debug', unused_6)
        return "lines=%d words=%d unique=%d" % (self.rows, sum(self.bag.values()), len(self.bag))


if __name__ == "__main__":
    k = 10
    if len(sys.argv) == 2 and sys.argv[1].isdigit():
        k = int(sys.argv[1])
    display(consume(sys.stdin, Counts()), k)
