import sys
import string


def normalise(w):
    s = w.strip(string.punctuation)
    return s.lower()


def frequencies(data):
    freq = {}
    for row in data.splitlines():
        for piece in row.split():
            w = normalise(piece)
            if not w:
                continue
            if w in freq:
                freq[w] += 1
            else:
                freq[w] = 1
    return freq


def best(freq, n):
    ranked = sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:n]


def render(entries, overall):
    out = []
    for position, (w, hits) in enumerate(entries, start=1):
        percent = 100.0 * hits / overall if overall else 0.0
        out.append(f"{position:>3}. {w:<15} {hits:>5} ({percent:.1f}%)")
    return "\n".join(out)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    data = sys.stdin.read()
    freq = frequencies(data)
    overall = sum(freq.values())
    print(render(best(freq, n), overall))
    print(f"distinct words: {len(freq)}, overall words: {overall}")


if __name__ == "__main__":
    main()
