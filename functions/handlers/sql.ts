import { sharedApp } from '../app';
import { createSqlHandler } from '../http/sql-routes';

export const handler = createSqlHandler(sharedApp());
