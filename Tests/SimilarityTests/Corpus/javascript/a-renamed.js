const fs = require('fs');

function readRow(line) {
  const [name, rawScore] = line.split(',');
  const pts = Number(rawScore);
  if (!name || Number.isNaN(pts)) {
    return null;
  }
  return { name: name.trim(), pts };
}

function gradeOf(mean) {
  if (mean >= 90) return 'A';
  if (mean >= 80) return 'B';
  if (mean >= 70) return 'C';
  if (mean >= 60) return 'D';
  return 'F';
}

function collect(items) {
  const table = new Map();
  for (const item of items) {
    if (!table.has(item.name)) {
      table.set(item.name, []);
    }
    table.get(item.name).push(item.pts);
  }
  return table;
}

function summarise(table) {
  const out = [];
  for (const [name, list] of table) {
    const acc = list.reduce((sum, value) => sum + value, 0);
    const mean = acc / list.length;
    out.push({ name, count: list.length, mean, letter: gradeOf(mean) });
  }
  out.sort((left, right) => right.mean - left.mean || left.name.localeCompare(right.name));
  return out;
}

function main() {
  const content = fs.readFileSync(0, 'utf8');
  const items = content.split('\n').map(readRow).filter((item) => item !== null);
  const result = summarise(collect(items));
  for (const r of result) {
    console.log(`${r.name.padEnd(20)} ${String(r.count).padStart(3)} ${r.mean.toFixed(1).padStart(6)} ${r.letter}`);
  }
  console.log(`${result.length} students, ${items.length} list`);
}

main();
