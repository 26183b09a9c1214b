'use strict';
const readline = require('readline');

const GRADES = [[90, 'A'], [80, 'B'], [70, 'C'], [60, 'D'], [0, 'F']];
const students = {};
let skipped = 0;

const rl = readline.createInterface({ input: process.stdin });

rl.on('line', (raw) => {
  const cells = raw.split(',').map((c) => c.trim());
  if (cells.length < 2 || cells[1] === '' || isNaN(cells[1])) {
    skipped += 1;
    return;
  }
  const who = cells[0];
  students[who] = students[who] || { sum: 0, n: 0, best: -Infinity };
  students[who].sum += parseFloat(cells[1]);
  students[who].n += 1;
  students[who].best = Math.max(students[who].best, parseFloat(cells[1]));
});

rl.on('close', () => {
  const names = Object.keys(students).sort();
  let classTotal = 0;
  names.forEach((who) => {
    const s = students[who];
    const avg = s.sum / s.n;
    classTotal += avg;
    const grade = GRADES.find(([limit]) => avg >= limit)[1];
    console.log(who + ': ' + avg.toFixed(2) + ' (' + grade + '), best ' + s.best);
  });
  if (names.length > 0) {
    console.log('class average ' + (classTotal / names.length).toFixed(2));
  }
  if (skipped) console.error(skipped + ' lines skipped');
});
