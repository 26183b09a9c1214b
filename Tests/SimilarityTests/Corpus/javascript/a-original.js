const fs = require('fs');

function parseLine(line) {
  const [name, scoreText] = line.split(',');
  const score = Number(scoreText);
  if (!name || Number.isNaN(score)) {
    return null;
  }
  return { name: name.trim(), score };
}

function letterFor(average) {
  if (average >= 90) return 'A';
  if (average >= 80) return 'B';
  if (average >= 70) return 'C';
  if (average >= 60) return 'D';
  return 'F';
}

function groupScores(records) {
  const byName = new Map();
  for (const record of records) {
    if (!byName.has(record.name)) {
      byName.set(record.name, []);
    }
    byName.get(record.name).push(record.score);
  }
  return byName;
}

function buildReport(byName) {
  const rows = [];
  for (const [name, scores] of byName) {
    const total = scores.reduce((sum, value) => sum + value, 0);
    const average = total / scores.length;
    rows.push({ name, count: scores.length, average, letter: letterFor(average) });
  }
  rows.sort((left, right) => right.average - left.average || left.name.localeCompare(right.name));
  return rows;
}

function main() {
  const text = fs.readFileSync(0, 'utf8');
  const records = text.split('\n').map(parseLine).filter((record) => record !== null);
  const report = buildReport(groupScores(records));
  for (const row of report) {
    console.log(`${row.name.padEnd(20)} ${String(row.count).padStart(3)} ${row.average.toFixed(1).padStart(6)} ${row.letter}`);
  }
  console.log(`${report.length} students, ${records.length} scores`);
}

main();
