import { sharedApp } from '../app';
import { createLifecycleRoutes, dispatchByRoute } from '../http/database-routes';

/** GET /databases, /databases/{name}, /databases/{name}/versions, /databases/{name}/export. */
export const handler = dispatchByRoute(createLifecycleRoutes(sharedApp()).read);
