-- Legacy orders database db_commandes (DESIGN.md section 5), as the ERP created it.
-- Used by the plant simulator and by the MySQL container of docker-compose.yaml.
-- Some tables are latin1, as in the plant: the sync must bring their accents intact.
-- No `create database`/`use`: it runs inside the database it is given (the MySQL image's
-- MYSQL_DATABASE, or the simulator's target), so tests can use uniquely named databases.

create table if not exists clients (
    id_client int not null auto_increment primary key,
    raison_sociale varchar(120) not null,
    ville varchar(80),
    code_postal char(5),
    email varchar(120),
    date_creation datetime,
    date_maj timestamp not null default current_timestamp on update current_timestamp,
    key idx_clients_date_maj (date_maj)
) engine = InnoDB default charset = latin1;

create table if not exists produits (
    id_produit int not null primary key,
    reference varchar(30) not null,
    libelle varchar(120),
    type_lame enum('PVC', 'ALU', 'ALU_ISOLE'),
    motorisation enum('MANUEL', 'FILAIRE', 'RADIO', 'SOLAIRE'),
    prix_m2 decimal(10, 2),
    actif tinyint(1) not null default 1,
    unique key uq_produits_reference (reference)
) engine = InnoDB default charset = latin1;

create table if not exists commandes (
    id_commande int not null auto_increment primary key,
    numero varchar(20) not null,
    id_client int not null,
    date_commande datetime,
    date_livraison_prevue date,
    statut enum('BROUILLON', 'VALIDEE', 'EN_PRODUCTION', 'EXPEDIEE', 'LIVREE', 'ANNULEE'),
    montant_ht decimal(12, 2),
    commentaire text,
    date_maj timestamp not null default current_timestamp on update current_timestamp,
    unique key uq_commandes_numero (numero),
    key idx_commandes_date_maj (date_maj)
) engine = InnoDB default charset = utf8mb4;

create table if not exists lignes_commande (
    id_ligne int not null auto_increment primary key,
    id_commande int not null,
    id_produit int not null,
    largeur_mm int,
    hauteur_mm int,
    coloris varchar(20),
    quantite int,
    prix_unitaire decimal(10, 2),
    date_maj timestamp not null default current_timestamp on update current_timestamp,
    key idx_lignes_commande_commande (id_commande),
    key idx_lignes_commande_date_maj (date_maj)
) engine = InnoDB default charset = utf8mb4;
