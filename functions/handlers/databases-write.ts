import { sharedApp } from '../app';
import { createLifecycleRoutes, dispatchByRoute } from '../http/database-routes';

/** POST /databases/{name}/restore, /import, /clone and DELETE /databases/{name}. */
export const handler = dispatchByRoute(createLifecycleRoutes(sharedApp()).write);
