class Gradebook {
  constructor() {
    this.entries = [];
  }

  add(student, points) {
    this.entries.push({ student, points });
  }

  students() {
    return [...new Set(this.entries.map((e) => e.student))];
  }

  scoresOf(student) {
    return this.entries.filter((e) => e.student === student).map((e) => e.points);
  }

  median(student) {
    const s = this.scoresOf(student).sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  }

  static grade(points) {
    return points >= 90 ? 'A' : points >= 80 ? 'B' : points >= 70 ? 'C' : points >= 60 ? 'D' : 'F';
  }
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const book = new Gradebook();
  for (const line of input.split(/\r?\n/)) {
    const match = /^\s*([^,]+?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(line);
    if (match) book.add(match[1], parseFloat(match[2]));
  }
  const table = book.students().map((student) => ({ student, median: book.median(student) }));
  table.sort((x, y) => y.median - x.median);
  console.table(table.map((row) => ({ ...row, grade: Gradebook.grade(row.median) })));
});
