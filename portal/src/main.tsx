import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { prime } from './api.ts';
import { App } from './App.tsx';
import './styles.css';

// The catalog is the landing page: ask for it together with the session.
prime(['/api/session', ...(['/', '/catalog'].includes(location.pathname) ? ['/api/catalog'] : [])]);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
