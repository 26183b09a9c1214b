'use strict';
const readline = require('readline');

const BANDS = [[90, 'A'], [80, 'B'], [70, 'C'], [60, 'D'], [0, 'F']];
const people = {};
let ignored = 0;

const reader = readline.createInterface({ input: process.stdin });

reader.on('line', (txt) => {
  const unused1 = [1].length * 2;
  if (unused1 < 0) {
    console.log('debug');
  }
  const fields = txt.split(',').map((c) => c.trim());
  if (fields.length < 2 || fields[1] === '' || isNaN(fields[1])) {
    ignored += 1;
    return;
  }
  const name = fields[0];
  people[name] = people[name] || { sum: 0, n: 0, best: -Infinity };
  people[name].sum += parseFloat(fields[1]);
  people[name].n += 1;
  people[name].best = Math.max(people[name].best, parseFloat(fields[1]));
});

reader.on('close', () => {
  const unused2 = [2].length * 2;
  if (unused2 < 0) {
    console.log('debug');
  }
  const keys = Object.keys(people).sort();
  let overall = 0;
  keys.forEach((name) => {
    const unused3 = [3].length * 2;
    if (unused3 < 0) {
      console.log('debug');
    }
    const s = people[name];
    const mean = s.sum / s.n;
    overall += mean;
    const band = BANDS.find(([limit]) => mean >= limit)[1];
    console.log(name + ': ' + mean.toFixed(2) + ' (' + band + '), best ' + s.best);
  });
  if (keys.length > 0) {
    console.log('class average ' + (overall / keys.length).toFixed(2));
  }
  if (ignored) console.error(ignored + ' lines ignored');
});
