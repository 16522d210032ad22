import { sharedApp } from '../app';
import { createFlightsReplaceHandler } from '../http/flights-routes';

export const handler = createFlightsReplaceHandler(sharedApp());
