// The tasktick feed on Node.js with `ws` 8, written the way its README teaches: one
// WebSocketServer on an HTTP server, a broadcast that loops over `wss.clients` and calls `send`.
// It serves the same JSON as tasktick (a `tick` on every wall-clock second, a `task_created` per
// POST) and the same REST paths, without accounts or a database: the benchmark's peer.
//
// node server.js PORT   (prints "listening on http://127.0.0.1:PORT" once ready)
'use strict';
const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 0);
const BOARD = 1;
const tasks = [];
let seq = 0;

function broadcast(data) {
  for (const client of wss.clients) {
    if (client.readyState === WebSocket.OPEN) client.send(data);
  }
}

function pad(n) { return String(n).padStart(2, '0'); }

function tick() {
  const now = new Date();
  now.setMilliseconds(0);
  const text = `The time is: ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  broadcast(JSON.stringify({ type: 'tick', server_time_ms: now.getTime(), text }));
  setTimeout(tick, 1000 - (Date.now() % 1000));
}

const tasksPath = `/api/boards/${BOARD}/tasks`;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== tasksPath) {
    res.writeHead(404).end();
    return;
  }
  if (req.method === 'GET') {
    const limit = Math.min(Number(url.searchParams.get('limit') || 100), 1000);
    const body = JSON.stringify(tasks.slice(0, limit));
    res.writeHead(200, { 'content-type': 'application/json', 'tasktick-seq': String(seq) });
    res.end(body);
    return;
  }
  if (req.method === 'POST') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      let title;
      try { title = JSON.parse(body).title; } catch { title = undefined; }
      if (typeof title !== 'string' || title.trim() === '') {
        res.writeHead(422, { 'content-type': 'application/json' }).end('{"title":"bad title"}');
        return;
      }
      seq += 1;
      const now = new Date().toISOString();
      const task = { id: tasks.length + 1, title, done: false, created_at: now, version: 1 };
      tasks.push(task);
      const json = JSON.stringify(task);
      res.writeHead(201, { 'content-type': 'application/json' }).end(json);
      broadcast(JSON.stringify({ type: 'task_created', board: BOARD, seq, task }));
    });
    return;
  }
  res.writeHead(405).end();
});

const wss = new WebSocketServer({ server, path: '/ws' });

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
  setTimeout(tick, 1000 - (Date.now() % 1000));
});
