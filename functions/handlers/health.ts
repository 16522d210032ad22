import { sharedApp } from '../app';
import { createHealthHandler } from '../http/sql-routes';

export const handler = createHealthHandler(sharedApp());
