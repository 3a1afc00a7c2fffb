// k6 scenario: inventory reads (gateway-api -> reservation-api -> inventory-api) at the 0.6 inventory share: 18,000 RPS sustained, 30,000 spike.
import { buildOptions, getInventory } from './common.js';
export { handleSummary } from './common.js';

export const options = buildOptions('inventory', { sustainRps: 18000, spikeRps: 30000 });

export function inventory() {
  getInventory();
}

export default inventory;
