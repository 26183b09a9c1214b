import sys


def tokenize(data):
    words = []
    current = []
    for ch in data:
        if ch.isalpha() or ch == "'":
            current.append(ch.lower())
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def tally(words):
    table = {}
    for w in words:
        table[w] = table.get(w, 0) + 1
    return table


def insertion_sort(entries):
    result = list(entries)
    for i in range(1, len(result)):
        key = result[i]
        j = i - 1
        while j >= 0 and (result[j][1] < key[1] or (result[j][1] == key[1] and result[j][0] > key[0])):
            result[j + 1] = result[j]
            j -= 1
        result[j + 1] = key
    return result


n = 10
args = sys.argv[1:]
if args:
    try:
        n = max(1, int(args[0]))
    except ValueError:
        print("usage: words.py [N]", file=sys.stderr)
        sys.exit(2)
table = tally(tokenize(sys.stdin.read()))
for word, count in insertion_sort(table.items())[:n]:
    print(count, word)
print("total", sum(table.values()))
