import type { NewFlight } from '../functions/flights/flights';

/**
 * Realistic, reproducible flights for seeding and load tests: Indian and some international
 * cities with their countries, real airline names, dates spread over the coming months, prices
 * that follow distance, carrier type, stops and how soon the flight is, durations that follow
 * distance, monsoon-aware rain, and checked-luggage prices on low-cost carriers. The same seed
 * and start date always give the same flights.
 */

export interface GeneratorOptions {
  rows: number;
  /** PRNG seed; the same seed gives the same flights. */
  seed?: number;
  /** First flight date, YYYY-MM-DD (default: today, UTC). Fix it for byte-identical runs on different days. */
  startDate?: string;
  /** Dates are spread over this many days from `startDate`. */
  days?: number;
}

interface City {
  name: string;
  country: string;
  lat: number;
  lon: number;
  /** Monsoon-driven rain months (1-12) for Indian cities. */
  wetMonths?: number[];
  /** The foreign city's home carrier. */
  carrier?: string;
}

const MONSOON = [6, 7, 8, 9];
const INDIA: City[] = [
  { name: 'Delhi', country: 'India', lat: 28.61, lon: 77.21, wetMonths: [7, 8] },
  { name: 'Mumbai', country: 'India', lat: 19.08, lon: 72.88, wetMonths: MONSOON },
  { name: 'Bengaluru', country: 'India', lat: 12.97, lon: 77.59, wetMonths: [5, 9, 10] },
  { name: 'Chennai', country: 'India', lat: 13.08, lon: 80.27, wetMonths: [10, 11, 12] },
  { name: 'Kolkata', country: 'India', lat: 22.57, lon: 88.36, wetMonths: MONSOON },
  { name: 'Hyderabad', country: 'India', lat: 17.39, lon: 78.49, wetMonths: [7, 8, 9] },
  { name: 'Goa', country: 'India', lat: 15.38, lon: 73.83, wetMonths: MONSOON },
  { name: 'Jaipur', country: 'India', lat: 26.91, lon: 75.79, wetMonths: [7, 8] },
  { name: 'Ahmedabad', country: 'India', lat: 23.02, lon: 72.57, wetMonths: [7, 8] },
  { name: 'Kochi', country: 'India', lat: 9.93, lon: 76.27, wetMonths: [6, 7, 10, 11] },
  { name: 'Pune', country: 'India', lat: 18.52, lon: 73.86, wetMonths: MONSOON },
  { name: 'Lucknow', country: 'India', lat: 26.85, lon: 80.95, wetMonths: [7, 8] },
  { name: 'Srinagar', country: 'India', lat: 34.08, lon: 74.8, wetMonths: [3, 4] },
  { name: 'Guwahati', country: 'India', lat: 26.14, lon: 91.74, wetMonths: [5, 6, 7, 8] },
];
const ABROAD: City[] = [
  { name: 'Dubai', country: 'United Arab Emirates', lat: 25.2, lon: 55.27, carrier: 'Emirates' },
  { name: 'Doha', country: 'Qatar', lat: 25.29, lon: 51.53, carrier: 'Qatar Airways' },
  { name: 'Singapore', country: 'Singapore', lat: 1.35, lon: 103.82, carrier: 'Singapore Airlines' },
  { name: 'Bangkok', country: 'Thailand', lat: 13.76, lon: 100.5, carrier: 'Thai Airways' },
  { name: 'Kuala Lumpur', country: 'Malaysia', lat: 3.14, lon: 101.69, carrier: 'Malaysia Airlines' },
  { name: 'London', country: 'United Kingdom', lat: 51.51, lon: -0.13, carrier: 'British Airways' },
  { name: 'Kathmandu', country: 'Nepal', lat: 27.72, lon: 85.32, carrier: 'Nepal Airlines' },
  { name: 'Colombo', country: 'Sri Lanka', lat: 6.93, lon: 79.86, carrier: 'SriLankan Airlines' },
];

interface Airline {
  name: string;
  lowCost: boolean;
}
const DOMESTIC_AIRLINES: Airline[] = [
  { name: 'Indigo', lowCost: true },
  { name: 'Air India', lowCost: false },
  { name: 'Vistara', lowCost: false },
  { name: 'SpiceJet', lowCost: true },
  { name: 'Akasa Air', lowCost: true },
  { name: 'Air India Express', lowCost: true },
];

/** mulberry32: tiny, fast, and good enough for test data. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateFlights(options: GeneratorOptions): NewFlight[] {
  const random = prng(options.seed ?? 1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const between = (low: number, high: number) => low + random() * (high - low);
  const start = Date.parse(`${options.startDate ?? new Date().toISOString().slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(start)) throw new Error(`startDate must be YYYY-MM-DD; got ${options.startDate}`);
  const days = options.days ?? 120;

  const flights: NewFlight[] = [];
  for (let i = 0; i < options.rows; i++) {
    const international = random() < 0.2;
    const [origin, destination] = international ? internationalRoute(pick, random) : domesticRoute(pick);
    const airline = international ? internationalAirline(pick, random, origin, destination) : pick(DOMESTIC_AIRLINES);
    const km = distanceKm(origin, destination);
    const stops = random() < (km < 1500 ? 0.12 : km < 4000 ? 0.35 : 0.5) ? (random() < 0.85 ? 1 : 2) : 0;
    const minutes = Math.round((km / 12.5 + 30 + stops * between(80, 240)) / 5) * 5;

    const dayOffset = Math.floor(random() * days);
    const date = new Date(start + dayOffset * 86_400_000);
    const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 5 || date.getUTCDay() === 6;
    const lastMinute = 1 + 0.6 * Math.exp(-dayOffset / 14);
    const carrierFactor = airline.lowCost ? 0.85 : international ? 1.3 : 1.15;
    const price = Math.round(
      (1800 + km * (international ? 5.5 : 4.2)) * carrierFactor * (stops > 0 ? 0.9 : 1) * lastMinute * (weekend ? 1.08 : 1) * between(0.85, 1.15),
    );

    const uuid = uuidFrom(random);
    const luggage = airline.lowCost && random() < 0.6;
    flights.push({
      uuid,
      date: date.toISOString().slice(0, 10),
      origin: origin.name,
      destination: destination.name,
      airline: airline.name,
      duration: `${Math.floor(minutes / 60)}h ${minutes % 60}m`,
      flight_type: stops === 0 ? 'Nonstop' : stops === 1 ? '1 stop' : '2 stops',
      price_inr: price,
      origin_country: origin.country,
      destination_country: destination.country,
      link: `https://flights.example.com/book/${uuid}`,
      // A few flights have no forecast yet.
      rain_probability: random() < 0.03 ? null : rainProbability(destination, date.getUTCMonth() + 1, random),
      free_meal: airline.lowCost ? random() < 0.05 : true,
      min_checked_luggage_price: luggage ? Math.round(between(international ? 3000 : 1500, international ? 6000 : 3500) / 50) * 50 : null,
      min_checked_luggage_weight: luggage ? (international ? 20 : 15) : null,
    });
  }
  return flights;
}

function domesticRoute(pick: <T>(list: readonly T[]) => T): [City, City] {
  const origin = pick(INDIA);
  let destination = pick(INDIA);
  while (destination === origin) destination = pick(INDIA);
  return [origin, destination];
}

function internationalRoute(pick: <T>(list: readonly T[]) => T, random: () => number): [City, City] {
  const home = pick(INDIA);
  const abroad = pick(ABROAD);
  return random() < 0.5 ? [home, abroad] : [abroad, home];
}

function internationalAirline(pick: <T>(list: readonly T[]) => T, random: () => number, origin: City, destination: City): Airline {
  const foreign = origin.carrier ?? destination.carrier!;
  const roll = random();
  if (roll < 0.45) return { name: foreign, lowCost: false };
  if (roll < 0.7) return { name: 'Air India', lowCost: false };
  if (roll < 0.9) return { name: 'Indigo', lowCost: true };
  return { name: pick(['Emirates', 'Qatar Airways']), lowCost: false };
}

function rainProbability(city: City, month: number, random: () => number): number {
  const wet = city.wetMonths ? city.wetMonths.includes(month) : false;
  const [low, high] = city.wetMonths ? (wet ? [0.5, 0.95] : [0, 0.3]) : [0, 0.45];
  return Math.round((low + random() * (high - low)) * 100) / 100;
}

function distanceKm(a: City, b: City): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

/** A version-4-shaped UUID drawn from the PRNG, so seeded runs repeat it. */
function uuidFrom(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}
