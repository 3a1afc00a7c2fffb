// k6 scenario: payment path (gateway-api -> payment-sim-api) at its 0.2 share: 6,000 RPS sustained, 10,000 spike.
import { buildOptions, createPayment } from './common.js';
export { handleSummary } from './common.js';

export const options = buildOptions('payment', { sustainRps: 6000, spikeRps: 10000 });

export function payment() {
  createPayment();
}

export default payment;
