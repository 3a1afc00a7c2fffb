// k6 scenario: end-to-end user mix at the full plan, 30,000 RPS sustained and 50,000 RPS spike at gateway-api.
// The mix reproduces the fan-out assumption of docs/scaling-strategy.md per gateway request:
//   40% availability reads (reservation-api + inventory-api), 20% reservations (reservation-api + inventory-api),
//   20% payments (payment-sim-api), 20% queue status (gateway-api and Redis only)
//   => reservation-api 0.6, inventory-api 0.6, payment-sim-api 0.2 calls per request.
import { buildOptions, getInventory, createReservation, createPayment, getQueueStatus } from './common.js';
export { handleSummary } from './common.js';

export const options = buildOptions('e2e', { sustainRps: 30000, spikeRps: 50000 });

const MIX = [
  { weight: 0.4, run: getInventory },
  { weight: 0.2, run: createReservation },
  { weight: 0.2, run: createPayment },
  { weight: 0.2, run: getQueueStatus },
];

export function e2e() {
  let r = Math.random();
  for (const step of MIX) {
    if (r < step.weight) {
      step.run();
      return;
    }
    r -= step.weight;
  }
  MIX[MIX.length - 1].run();
}

export default e2e;
