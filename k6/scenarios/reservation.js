// k6 scenario: reservation path (gateway-api -> reservation-api -> inventory-api) at its 0.6 share: 18,000 RPS sustained, 30,000 spike.
import { buildOptions, createReservation } from './common.js';
export { handleSummary } from './common.js';

export const options = buildOptions('reservation', { sustainRps: 18000, spikeRps: 30000 });

export function reservation() {
  createReservation();
}

export default reservation;
