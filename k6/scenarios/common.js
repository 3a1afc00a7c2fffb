// Shared k6 helpers for the Traffic Tacos load plan: ramp / sustain / spike load shapes, thresholds, request helpers.
import http from 'k6/http';
import { check } from 'k6';

// Where to send traffic (the public API behind the ALB) and which load shape to run.
export const BASE_URL = (__ENV.BASE_URL || 'https://api.traffictacos.store').replace(/\/+$/, '');
export const SCENARIO = (__ENV.SCENARIO || 'ramp').toLowerCase();

// The load shapes (ramp, sustain, spike, full): one file, also replayed by `tacos loadtest --simulate`.
// Each stage's durationEnv overrides its duration for a rehearsal (e.g. HOLD_DURATION=5m).
const PLAN = JSON.parse(open('./stages.json')).scenarios;

// Public API paths (gateway-api). Internal paths (/metrics, /actuator, /debug, /swagger) are never called.
export const PATHS = {
  inventory: (eventId) => `/api/v1/inventory/${eventId}`,
  reservations: '/api/v1/reservations',
  payments: '/api/v1/payments',
  queueStatus: (eventId) => `/api/v1/queue/status?event_id=${eventId}`,
};

// 4xx answers that are business outcomes, not failures (409: seats already taken).
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409));

function intEnv(name, fallback) {
  const v = parseInt(__ENV[name] || '', 10);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

// VUs needed for an arrival rate: rate x latency (100 ms expected, 500 ms worst case before the threshold fails).
function vus(rate) {
  return {
    preAllocatedVUs: Math.max(10, Math.ceil(rate * 0.1)),
    maxVUs: Math.max(50, Math.ceil(rate * 0.5)),
  };
}

// A rate of stages.json: a number, or the script's sustained / spike rate.
function rateOf(rate, sustain, spike) {
  if (rate === 'sustained') return sustain;
  if (rate === 'spike') return spike;
  return rate;
}

// The k6 scenario for SCENARIO=ramp|sustain|spike|full|smoke at this script's share of the plan.
// sustainRps / spikeRps default to the script's share; SUSTAIN_RPS / SPIKE_RPS override them.
export function scenarioFor(execName, defaults) {
  const sustain = intEnv('SUSTAIN_RPS', defaults.sustainRps);
  const spike = intEnv('SPIKE_RPS', defaults.spikeRps);
  const base = { exec: execName, timeUnit: '1s', gracefulStop: '30s' };
  if (SCENARIO === 'smoke') {
    return Object.assign({}, base, { executor: 'constant-arrival-rate', rate: 10, duration: '1m', preAllocatedVUs: 5, maxVUs: 20 });
  }
  const shape = PLAN[SCENARIO];
  if (!shape) {
    throw new Error(`SCENARIO must be ${Object.keys(PLAN).join(', ')} or smoke (got "${SCENARIO}")`);
  }
  const stages = shape.stages.map((stage) => ({
    target: rateOf(stage.target, sustain, spike),
    duration: __ENV[stage.durationEnv] || stage.duration,
  }));
  const peak = Math.max(...stages.map((stage) => stage.target));
  return Object.assign({}, base, vus(peak), {
    executor: 'ramping-arrival-rate',
    startRate: rateOf(shape.startRate, sustain, spike),
    stages,
  });
}

// Pass/fail criteria of the plan; a run that fails badly aborts instead of hammering a broken system.
export const thresholds = {
  http_req_duration: ['p(95)<200', 'p(99)<500'],
  http_req_failed: ['rate<0.001', { threshold: 'rate<0.05', abortOnFail: true, delayAbortEval: '1m' }],
  checks: ['rate>0.999'],
};

export function buildOptions(execName, defaults) {
  return {
    scenarios: { [`${execName}_${SCENARIO}`]: scenarioFor(execName, defaults) },
    thresholds,
    discardResponseBodies: true,
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
    userAgent: 'traffic-tacos-k6/1.0',
    tags: { testid: __ENV.TEST_ID || `${execName}-${SCENARIO}` },
  };
}

export function headers(extra) {
  const h = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (__ENV.AUTH_TOKEN) {
    h.Authorization = `Bearer ${__ENV.AUTH_TOKEN}`;
  }
  return Object.assign(h, extra || {});
}

// Synthetic ids spread over EVENT_COUNT events so caches and partitions see realistic keys.
export function eventId() {
  return `evt-${1 + Math.floor(Math.random() * intEnv('EVENT_COUNT', 100))}`;
}

export function idempotencyKey(prefix) {
  return `${prefix}-${__VU}-${__ITER}-${Date.now()}`;
}

export function checkStatus(res, name, allowed) {
  const ok = allowed || [200, 201];
  return check(res, { [`${name}: status ${ok.join('/')}`]: (r) => ok.indexOf(r.status) !== -1 });
}

// One call per service path through the public API.
export function getInventory() {
  const res = http.get(`${BASE_URL}${PATHS.inventory(eventId())}`, { headers: headers(), tags: { name: 'GET /api/v1/inventory/:event' } });
  checkStatus(res, 'inventory', [200]);
}

export function createReservation() {
  const body = JSON.stringify({ event_id: eventId(), quantity: 1 + Math.floor(Math.random() * 4) });
  const res = http.post(`${BASE_URL}${PATHS.reservations}`, body, {
    headers: headers({ 'Idempotency-Key': idempotencyKey('rsv') }),
    tags: { name: 'POST /api/v1/reservations' },
  });
  checkStatus(res, 'reservation', [200, 201, 409]);
}

export function createPayment() {
  const body = JSON.stringify({ reservation_id: idempotencyKey('rsv'), amount: 50000, currency: 'KRW' });
  const res = http.post(`${BASE_URL}${PATHS.payments}`, body, {
    headers: headers({ 'Idempotency-Key': idempotencyKey('pay') }),
    tags: { name: 'POST /api/v1/payments' },
  });
  checkStatus(res, 'payment', [200, 201, 202]);
}

export function getQueueStatus() {
  const res = http.get(`${BASE_URL}${PATHS.queueStatus(eventId())}`, { headers: headers(), tags: { name: 'GET /api/v1/queue/status' } });
  checkStatus(res, 'queue status', [200]);
}

// One machine-readable line per runner for `tacos loadtest` (it reads the runners' logs), then a short
// human summary. Thresholds keep deciding k6's exit code (99 when one fails).
export function handleSummary(data) {
  const metric = (name, stat) => (data.metrics[name] && data.metrics[name].values[stat]) || 0;
  const thresholdsOf = {};
  for (const [name, m] of Object.entries(data.metrics)) {
    if (m.thresholds) {
      for (const [expr, result] of Object.entries(m.thresholds)) {
        thresholdsOf[`${name}: ${expr}`] = result.ok;
      }
    }
  }
  const summary = {
    requests: metric('http_reqs', 'count'),
    rps: metric('http_reqs', 'rate'),
    p95Ms: metric('http_req_duration', 'p(95)'),
    p99Ms: metric('http_req_duration', 'p(99)'),
    errorRate: metric('http_req_failed', 'rate'),
    thresholds: thresholdsOf,
  };
  const failed = Object.entries(thresholdsOf).filter(([, ok]) => !ok).map(([t]) => t);
  const text = `${summary.requests} requests, ${summary.rps.toFixed(1)} RPS, p95 ${summary.p95Ms.toFixed(1)} ms, ` +
    `p99 ${summary.p99Ms.toFixed(1)} ms, errors ${(summary.errorRate * 100).toFixed(3)}%` +
    (failed.length ? `; thresholds failed: ${failed.join(', ')}` : '; all thresholds passed');
  return { stdout: `TACOS-SUMMARY ${JSON.stringify(summary)}\n${text}\n` };
}
