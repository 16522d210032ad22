import { sharedApp } from '../app';
import { createFlightsSearchHandler } from '../http/flights-routes';

export const handler = createFlightsSearchHandler(sharedApp());
